// Placement of peers on media nodes (issue 13): which node a hall's media (or a staff or press
// console's) goes to. Pure rules, no I/O: the control plane reads the live nodes and the stored
// placements, asks these functions, and writes the answer with a compare-and-set.
//
// The rules, in order:
//   1. A peer already on a live node that is not draining stays there (a move costs a reconnect).
//   2. Only live, non-draining nodes with room take a peer: a node's placements never exceed its
//      `capacity`.
//   3. Affinity by labels: when the plan prefers nodes with some labels for the peer (its own
//      rule, or its district's), and such a node can take it, it goes to one of those.
//   4. Together: among those, the node that already has most of the peer's group (a district hall
//      and its communes; the province hall with the staff and the press).
//   5. Load: the least used node (placements / capacity), then the least CPU per worker, then the
//      fewest peers, then the node id (so every control instance decides the same).
// A group is placed at once when its first member is (placeWithGroup), and moved at once off a
// lost node: the store writes it all or nothing, so two control instances placing two halls of
// one district at the same moment cannot split it.
import type { Labels, MediaNodeRecord, PlacementRecord } from '../protocol/cluster.ts';
import type { ConferencePlan } from '../protocol/plan.ts';

/** The peer keys of staff and press consoles (every console of a role shares its key and node). */
export const STAFF_PEER_KEYS = ['chair', 'secretary', 'technician', 'viewer'] as const;

/** What the placement rules know of a plan: each peer's group and the node labels it prefers. */
export interface PlacementRules {
  /** The group a peer goes with, or the peer key itself when it goes alone. */
  groupOf(peerKey: string): string;
  /** The labels a node must carry to be preferred for this peer, or null. */
  labelsOf(peerKey: string): Labels | null;
  /** Every peer of a group (the plan's halls and the consoles), the group's own hall first. */
  membersOf(group: string): readonly string[];
}

/** A move of one peer: from the node it is on (null: not placed yet) to another (null: no node can take it). */
export interface PlacementMove {
  peerKey: string;
  from: string | null;
  to: string | null;
  /** The epoch of the record moved (0: none), for the compare-and-set. */
  epoch: number;
}

const rulesCache = new WeakMap<ConferencePlan, PlacementRules>();

/** The placement rules of a plan (computed once per plan object). */
export function placementRules(plan: ConferencePlan): PlacementRules {
  const cached = rulesCache.get(plan);
  if (cached) return cached;
  const byId = new Map(plan.bridges.map((b) => [b.id, b]));
  const province = plan.bridges.find((b) => b.tier === 'province')?.id ?? null;
  const together = (plan.placement?.together ?? 'district') === 'district';
  const labels = new Map<string, Labels>();
  for (const rule of plan.placement?.affinity ?? []) for (const id of rule.bridges) if (!labels.has(id)) labels.set(id, rule.labels);
  /** A staff console counts as the province hall (it sits there). */
  const bridgeOf = (peerKey: string): string | null => ((STAFF_PEER_KEYS as readonly string[]).includes(peerKey) ? province : byId.has(peerKey) ? peerKey : null);
  const groupOf = (peerKey: string): string => {
    const id = bridgeOf(peerKey);
    if (!id || !together) return id && id !== peerKey ? peerKey : (id ?? peerKey);
    const bridge = byId.get(id)!;
    return bridge.tier === 'commune' && bridge.parentId ? bridge.parentId : bridge.id;
  };
  const members = new Map<string, string[]>();
  for (const key of [...plan.bridges.map((b) => b.id), ...STAFF_PEER_KEYS]) {
    const group = groupOf(key);
    if (!members.has(group)) members.set(group, []);
    members.get(group)!.push(key);
  }
  for (const [group, keys] of members) keys.sort((a, b) => (a === group ? -1 : b === group ? 1 : 0));
  const rules: PlacementRules = {
    groupOf,
    membersOf: (group) => members.get(group) ?? [group],
    labelsOf(peerKey) {
      const id = bridgeOf(peerKey);
      if (!id) return null;
      return labels.get(id) ?? labels.get(byId.get(id)!.parentId ?? '') ?? null;
    },
  };
  rulesCache.set(plan, rules);
  return rules;
}

/** Whether a node carries every label asked for. */
export function hasLabels(node: MediaNodeRecord, wanted: Labels): boolean {
  return Object.entries(wanted).every(([k, v]) => node.labels[k] === v);
}

/** Placements per node and per group on each node, kept up to date while several peers are placed. */
class Tally {
  readonly #onNode = new Map<string, number>();
  readonly #groupOnNode = new Map<string, number>();
  readonly #rules: PlacementRules;

  constructor(placements: Iterable<PlacementRecord>, rules: PlacementRules) {
    this.#rules = rules;
    for (const p of placements) this.add(p.peerKey, p.nodeId);
  }

  add(peerKey: string, nodeId: string, by = 1): void {
    this.#onNode.set(nodeId, (this.#onNode.get(nodeId) ?? 0) + by);
    const key = `${this.#rules.groupOf(peerKey)}\u0000${nodeId}`;
    this.#groupOnNode.set(key, (this.#groupOnNode.get(key) ?? 0) + by);
  }

  on(nodeId: string): number {
    return this.#onNode.get(nodeId) ?? 0;
  }

  groupOn(group: string, nodeId: string): number {
    return this.#groupOnNode.get(`${group}\u0000${nodeId}`) ?? 0;
  }
}

/** Whether a node takes new peers at all (alive is given: only live nodes are passed). */
function open(node: MediaNodeRecord): boolean {
  return !node.draining && node.capacity > 0;
}

/** The node for a peer that must be (re)placed, by rules 2–5; null when no node can take it. */
function choose(nodes: readonly MediaNodeRecord[], tally: Tally, peerKey: string, rules: PlacementRules): MediaNodeRecord | null {
  let pool = nodes.filter((n) => open(n) && tally.on(n.nodeId) < n.capacity);
  if (pool.length === 0) return null;
  const wanted = rules.labelsOf(peerKey);
  if (wanted) {
    const preferred = pool.filter((n) => hasLabels(n, wanted));
    if (preferred.length) pool = preferred;
  }
  const group = rules.groupOf(peerKey);
  const most = Math.max(...pool.map((n) => tally.groupOn(group, n.nodeId)));
  if (most > 0) pool = pool.filter((n) => tally.groupOn(group, n.nodeId) === most);
  const cpuPerWorker = (n: MediaNodeRecord): number => n.load.cpu / Math.max(1, n.workers);
  return pool.reduce((best, n) => {
    const order =
      tally.on(n.nodeId) / n.capacity - tally.on(best.nodeId) / best.capacity ||
      cpuPerWorker(n) - cpuPerWorker(best) ||
      n.load.peers - best.load.peers ||
      (n.nodeId < best.nodeId ? -1 : n.nodeId > best.nodeId ? 1 : 0);
    return order < 0 ? n : best;
  });
}

const asRecords = (placements: ReadonlyMap<string, PlacementRecord> | Iterable<PlacementRecord>): PlacementRecord[] =>
  placements instanceof Map ? [...placements.values()] : [...(placements as Iterable<PlacementRecord>)];

/**
 * The node a peer's media goes to: where it is, if that node is live and not draining;
 * otherwise the best node by the rules above; null when no live node can take it.
 * `nodes` are the live nodes (the registry's), `placements` every placement of the conference.
 */
export function place(
  nodes: readonly MediaNodeRecord[],
  placements: ReadonlyMap<string, PlacementRecord> | Iterable<PlacementRecord>,
  peerKey: string,
  plan: ConferencePlan | PlacementRules,
): string | null {
  const rules = 'bridges' in plan ? placementRules(plan) : plan;
  const records = asRecords(placements);
  const current = records.find((p) => p.peerKey === peerKey);
  const here = current && nodes.find((n) => n.nodeId === current.nodeId);
  if (here && !here.draining) return here.nodeId;
  const others = records.filter((p) => p.peerKey !== peerKey);
  return choose(nodes, new Tally(others, rules), peerKey, rules)?.nodeId ?? null;
}

/**
 * A peer that must be placed (none yet, or its node is lost), with the members of its group that
 * are not on a live node either: where each goes, decided one after the other (the peer first,
 * the others following it while there is room). Empty when no node can take the peer itself.
 */
export function placeWithGroup(
  nodes: readonly MediaNodeRecord[],
  placements: ReadonlyMap<string, PlacementRecord> | Iterable<PlacementRecord>,
  peerKey: string,
  plan: ConferencePlan | PlacementRules,
): PlacementMove[] {
  const rules = 'bridges' in plan ? placementRules(plan) : plan;
  const live = new Set(nodes.map((n) => n.nodeId));
  const byPeer = new Map(asRecords(placements).map((p) => [p.peerKey, p]));
  const homeless = (k: string): boolean => !live.has(byPeer.get(k)?.nodeId ?? '');
  const keys = [peerKey, ...rules.membersOf(rules.groupOf(peerKey)).filter((k) => k !== peerKey && homeless(k))];
  const tally = new Tally(
    [...byPeer.values()].filter((p) => !keys.includes(p.peerKey) && live.has(p.nodeId)),
    rules,
  );
  const moves: PlacementMove[] = [];
  for (const k of keys) {
    const to = choose(nodes, tally, k, rules);
    if (!to) {
      if (k === peerKey) return [];
      continue;
    }
    tally.add(k, to.nodeId);
    moves.push({ peerKey: k, from: byPeer.get(k)?.nodeId ?? null, to: to.nodeId, epoch: byPeer.get(k)?.epoch ?? 0 });
  }
  return moves;
}

/**
 * Every peer placed on a node that is not live any more, with where it goes now (decided one
 * after the other, each counting the ones before it: a district's halls land together and no
 * node goes past its capacity). `to` is null for a peer no live node can take.
 */
export function movesOffLostNodes(
  nodes: readonly MediaNodeRecord[],
  placements: ReadonlyMap<string, PlacementRecord> | Iterable<PlacementRecord>,
  plan: ConferencePlan | PlacementRules,
): PlacementMove[] {
  const rules = 'bridges' in plan ? placementRules(plan) : plan;
  const live = new Set(nodes.map((n) => n.nodeId));
  const records = asRecords(placements);
  const lost = records.filter((p) => !live.has(p.nodeId));
  if (lost.length === 0) return [];
  const tally = new Tally(
    records.filter((p) => live.has(p.nodeId)),
    rules,
  );
  // Group by group so that the first of a district picks the node and the others follow it.
  lost.sort((a, b) => cmp(rules.groupOf(a.peerKey), rules.groupOf(b.peerKey)) || cmp(a.peerKey, b.peerKey));
  return lost.map((p) => {
    const to = choose(nodes, tally, p.peerKey, rules);
    if (to) tally.add(p.peerKey, to.nodeId);
    return { peerKey: p.peerKey, from: p.nodeId, to: to?.nodeId ?? null, epoch: p.epoch };
  });
}

/**
 * The next peer to move off a draining node, and where (one at a time: the browser opens the
 * new node before it leaves the old one). Peers `online` says are not connected come first and
 * may all go at once (nobody is watching them); null when nothing is left to move or no node
 * can take the next one.
 */
export function drainMoves(
  nodes: readonly MediaNodeRecord[],
  placements: ReadonlyMap<string, PlacementRecord> | Iterable<PlacementRecord>,
  plan: ConferencePlan | PlacementRules,
  online: (peerKey: string) => boolean,
): { offline: PlacementMove[]; next: PlacementMove | null } {
  const rules = 'bridges' in plan ? placementRules(plan) : plan;
  const draining = new Set(nodes.filter((n) => n.draining).map((n) => n.nodeId));
  const records = asRecords(placements);
  const leaving = records.filter((p) => draining.has(p.nodeId)).sort((a, b) => cmp(rules.groupOf(a.peerKey), rules.groupOf(b.peerKey)) || cmp(a.peerKey, b.peerKey));
  if (leaving.length === 0) return { offline: [], next: null };
  const tally = new Tally(
    records.filter((p) => !draining.has(p.nodeId)),
    rules,
  );
  const offline: PlacementMove[] = [];
  let next: PlacementMove | null = null;
  for (const p of leaving) {
    const connected = online(p.peerKey);
    if (connected && next) continue;
    const to = choose(nodes, tally, p.peerKey, rules);
    if (!to) continue;
    tally.add(p.peerKey, to.nodeId);
    const move = { peerKey: p.peerKey, from: p.nodeId, to: to.nodeId, epoch: p.epoch };
    if (connected) next = move;
    else offline.push(move);
  }
  return { offline, next };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
