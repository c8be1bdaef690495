// Placement over the shared registry of media nodes (issue 13), one per control instance. Every
// instance watches the registry; the decisions are the pure rules of server/core/placement.ts;
// every write is a compare-and-set on the record's epoch, so when several instances react to the
// same event exactly one of them moves each peer, and the others hear the move on the store's
// channel and tell their own pages.
//
//   - A page asks where its media goes: its placement if its node is alive (draining or not),
//     otherwise a new one (first placement, or away from a node that died), with the rest of its
//     group that has no live node, written all or nothing (two instances never split a district).
//   - A node's lease ends: every peer on it moves to a survivor (reason node_lost) at once, a
//     group at a time, each group written all or nothing.
//   - A node drains (its record says so, or a technician marked it): its unconnected peers move
//     at once, its connected ones one at a time, `drainStepMs` apart, so that each browser opens
//     the new node before it leaves the old one. The pace is read from the store (the time of the
//     last 'drained' move), so two instances together still move one at a time.
import { EventEmitter } from 'node:events';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';
import { drainMoves, movesOffLostNodes, placementRules, placeWithGroup, type PlacementMove, type PlacementRules } from '../../core/placement.ts';
import type { MediaNodeRecord, PlacementRecord } from '../../protocol/cluster.ts';
import type { ConferencePlan } from '../../protocol/plan.ts';
import type { NodeRegistry, NodeWatch, PlacementStore, PlacementWatch } from '../../store/index.ts';
import { PlacementError, type MediaPlacement, type MediaPlacementEvents, type MediaWhere, type NodeLine } from './MediaPlacement.ts';

/** How often the live nodes and drain marks are read and the moves checked. */
export const PLACEMENT_TICK_MS = 500;
/** Between two moves of connected peers off a draining node. */
export const DRAIN_STEP_MS = 2000;
/** How often the whole placement map is read again (an announcement lost while redis reconnected). */
export const PLACEMENT_REFRESH_MS = 10_000;

/** Options of ClusterPlacement.start. */
export interface ClusterPlacementOptions {
  conferenceId: string;
  plan: ConferencePlan;
  nodes: NodeRegistry;
  store: PlacementStore;
  clock: Clock;
  /** Whether a peer has a page connected now; unconnected peers leave a draining node at once. */
  online: (peerKey: string) => boolean;
  /** Something failed with no caller to tell. */
  problem: (message: string, error: unknown) => void;
  tickMs?: number;
  drainStepMs?: number;
  refreshMs?: number;
}

/** Placement over the registry's live nodes, stored with compare-and-set. */
export class ClusterPlacement extends EventEmitter<MediaPlacementEvents> implements MediaPlacement {
  readonly mode = 'cluster' as const;
  readonly #o: ClusterPlacementOptions;
  readonly #rules: PlacementRules;
  /** Live nodes, by id. */
  #live = new Map<string, MediaNodeRecord>();
  /** Every node ever seen (a lost node's URL and labels for its line). */
  readonly #known = new Map<string, MediaNodeRecord>();
  #marks = new Set<string>();
  readonly #placements = new Map<string, PlacementRecord>();
  /** Writes of this instance, one after the other (two pages placed at once must not both take a node's last place). */
  #queue: Promise<unknown> = Promise.resolve();
  #nodeWatch: NodeWatch | undefined;
  #placementWatch: PlacementWatch | undefined;
  #tick: ClockTimer | undefined;
  #lastRefresh = 0;
  #ticking = false;
  #closed = false;

  private constructor(options: ClusterPlacementOptions) {
    super();
    this.#o = options;
    this.#rules = placementRules(options.plan);
  }

  /** Reads the nodes, marks and placements, watches the registry and the store, and starts the checks. */
  static async start(options: ClusterPlacementOptions): Promise<ClusterPlacement> {
    const p = new ClusterPlacement(options);
    try {
      p.#placementWatch = await options.store.watchPlacements(options.conferenceId, (record) => p.#apply(record));
      p.#nodeWatch = await options.nodes.watchNodes((change) => {
        if (change.kind === 'up') p.#nodeUp(change.node);
        else if (p.#live.delete(change.nodeId)) {
          p.emit('changed');
          void p.#serial(() => p.#reconcile());
        }
      });
      await p.#refresh(true);
      await p.#serial(() => p.#reconcile());
      p.#tick = options.clock.setInterval(() => void p.#onTick(), options.tickMs ?? PLACEMENT_TICK_MS, { background: true });
    } catch (error) {
      await p.close();
      throw error;
    }
    return p;
  }

  async where(peerKey: string): Promise<MediaWhere | null> {
    return this.#serial(async () => {
      const current = this.#placements.get(peerKey);
      if (current && this.#live.has(current.nodeId)) return this.#whereOf(current);
      return this.#moveWithRetry(peerKey, current ? 'node_lost' : 'placed');
    });
  }

  nodeOf(peerKey: string): string | null {
    return this.#placements.get(peerKey)?.nodeId ?? null;
  }

  nodes(): NodeLine[] {
    const placed = new Map<string, number>();
    for (const p of this.#placements.values()) placed.set(p.nodeId, (placed.get(p.nodeId) ?? 0) + 1);
    const ids = new Set([...this.#live.keys(), ...placed.keys()]);
    return [...ids].sort().map((nodeId) => {
      const n = this.#live.get(nodeId) ?? this.#known.get(nodeId);
      return {
        nodeId,
        mediaUrl: n?.mediaUrl ?? null,
        alive: this.#live.has(nodeId),
        draining: (n?.draining ?? false) || this.#marks.has(nodeId),
        drainMarked: this.#marks.has(nodeId),
        labels: n?.labels ?? {},
        workers: n?.workers ?? 0,
        load: n ? { ...n.load } : { peers: 0, consumers: 0, cpu: 0 },
        capacity: n?.capacity ?? null,
        placed: placed.get(nodeId) ?? 0,
        pipes: n?.pipes ? { ...n.pipes, ...(n.pipes.tracks ? { tracks: { ...n.pipes.tracks } } : {}) } : null,
      };
    });
  }

  async setDraining(nodeId: string, draining: boolean): Promise<void> {
    if (draining && !this.#live.has(nodeId)) throw new PlacementError('unknown_node', `no live media node [nodeId:${nodeId}]`);
    await this.#o.store.setDraining(this.#o.conferenceId, nodeId, draining);
    if (draining) this.#marks.add(nodeId);
    else this.#marks.delete(nodeId);
    this.emit('changed');
    await this.#serial(() => this.#reconcile());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.clock.clearInterval(this.#tick);
    await Promise.allSettled([this.#nodeWatch?.close(), this.#placementWatch?.close()]);
    this.removeAllListeners();
  }

  /** The live nodes as placement sees them: a node a technician marked counts as draining. */
  #effectiveNodes(): MediaNodeRecord[] {
    return [...this.#live.values()].map((n) => (this.#marks.has(n.nodeId) && !n.draining ? { ...n, draining: true } : n));
  }

  #whereOf(record: PlacementRecord): MediaWhere {
    const node = this.#live.get(record.nodeId) ?? this.#known.get(record.nodeId);
    return { peerKey: record.peerKey, nodeId: record.nodeId, mediaUrl: node?.mediaUrl ?? null, epoch: record.epoch, reason: record.reason };
  }

  #nodeUp(node: MediaNodeRecord): void {
    const before = this.#live.get(node.nodeId);
    this.#live.set(node.nodeId, node);
    this.#known.set(node.nodeId, node);
    if (!before || before.draining !== node.draining) {
      this.emit('changed');
      // A node that starts draining: its peers start leaving now, not at the next tick.
      if (node.draining) void this.#serial(() => this.#reconcile());
    }
  }

  /** A record written here or by another instance: kept if newer; its pages are told if it moved. */
  #apply(record: PlacementRecord): void {
    const before = this.#placements.get(record.peerKey);
    if (before && before.epoch >= record.epoch) return;
    this.#placements.set(record.peerKey, record);
    this.emit('changed');
    if (before?.nodeId !== record.nodeId) this.emit('moved', this.#whereOf(record));
  }

  /** Places (or moves) one peer and its group's homeless members by the rules, retrying with what the store holds when another writer was first. */
  async #moveWithRetry(peerKey: string, reason: PlacementRecord['reason']): Promise<MediaWhere | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = this.#placements.get(peerKey);
      if (current && this.#live.has(current.nodeId) && attempt > 0) return this.#whereOf(current);
      const moves = placeWithGroup(this.#effectiveNodes(), this.#placements, peerKey, this.#rules);
      if (moves.length === 0) return null;
      const written = await this.#writeAll(moves, reason);
      const mine = written?.find((r) => r.peerKey === peerKey);
      if (mine) return this.#whereOf(mine);
      await this.#refresh(true);
    }
    const current = this.#placements.get(peerKey);
    return current && this.#live.has(current.nodeId) ? this.#whereOf(current) : null;
  }

  /** One compare-and-set; the stored record (applied here at once), or null when another writer was first. */
  async #write(move: PlacementMove, reason: PlacementRecord['reason']): Promise<PlacementRecord | null> {
    return (await this.#writeAll([move], reason))?.[0] ?? null;
  }

  /** Several moves, all or nothing; the stored records (applied here at once), or null when another writer changed any of them. */
  async #writeAll(moves: readonly PlacementMove[], reason: PlacementRecord['reason']): Promise<PlacementRecord[] | null> {
    const at = this.#o.clock.now();
    const writes = moves.flatMap((m) => (m.to ? [{ record: { peerKey: m.peerKey, nodeId: m.to, at, reason }, expectedEpoch: m.epoch }] : []));
    if (writes.length === 0) return null;
    const stored = await this.#o.store.placeAll(this.#o.conferenceId, writes);
    for (const r of stored ?? []) this.#apply(r);
    return stored;
  }

  /**
   * Moves what must move now: every peer off a lost node; off a draining node, the unconnected
   * peers and, once the last drain move is drainStepMs old, the next connected one.
   */
  async #reconcile(): Promise<void> {
    if (this.#closed) return;
    let stale = false;
    // A group at a time, all or nothing: another instance moving the same group wins it whole.
    const byGroup = new Map<string, PlacementMove[]>();
    for (const move of movesOffLostNodes(this.#effectiveNodes(), this.#placements, this.#rules)) {
      if (!move.to) continue;
      const group = this.#rules.groupOf(move.peerKey);
      byGroup.set(group, [...(byGroup.get(group) ?? []), move]);
    }
    for (const moves of byGroup.values()) if (!(await this.#writeAll(moves, 'node_lost'))) stale = true;
    const { offline, next } = drainMoves(this.#effectiveNodes(), this.#placements, this.#rules, this.#o.online);
    for (const move of offline) if (!(await this.#write(move, 'drained'))) stale = true;
    if (next && this.#o.clock.now() - this.#lastDrainAt() >= (this.#o.drainStepMs ?? DRAIN_STEP_MS)) {
      if (!(await this.#write(next, 'drained'))) stale = true;
    }
    if (stale) await this.#refresh(false);
  }

  /** When a connected peer last left a draining node (any instance's move: the store's records). */
  #lastDrainAt(): number {
    let last = 0;
    for (const p of this.#placements.values()) if (p.reason === 'drained' && p.at > last && this.#o.online(p.peerKey)) last = p.at;
    return last;
  }

  /** Reads the live nodes and the drain marks; and the placements too when asked, or when they are old. */
  async #refresh(withPlacements: boolean): Promise<void> {
    const { nodes, store, conferenceId, clock } = this.#o;
    const [live, marks] = await Promise.all([nodes.liveNodes(), store.drainingNodes(conferenceId)]);
    const before = [...this.#live.keys()].sort().join(' ') + '|' + [...this.#marks].sort().join(' ');
    this.#live = new Map(live.map((n) => [n.nodeId, n]));
    for (const n of live) this.#known.set(n.nodeId, n);
    this.#marks = marks;
    if (before !== [...this.#live.keys()].sort().join(' ') + '|' + [...this.#marks].sort().join(' ')) this.emit('changed');
    if (!withPlacements && clock.now() - this.#lastRefresh < (this.#o.refreshMs ?? PLACEMENT_REFRESH_MS)) return;
    this.#lastRefresh = clock.now();
    for (const record of (await store.placements(conferenceId)).values()) this.#apply(record);
  }

  async #onTick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    try {
      await this.#serial(async () => {
        await this.#refresh(false);
        await this.#reconcile();
      });
    } catch (error) {
      this.#o.problem('placement check failed', error);
    } finally {
      this.#ticking = false;
    }
  }

  /** Runs fn after this instance's earlier writes. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
