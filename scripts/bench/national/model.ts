/**
 * sim:national's model: the real placement rules (server/core/placement.ts, imported, not copied)
 * place every peer of a national plan on media nodes sized by a measured per-packet cost; the
 * packets each node handles follow from where the peers are and what each receives and sends.
 *
 * What each peer receives and sends (the routing diemcau does, issue 12): every hall receives the
 * programme (the speaker's camera, high layer) and two audio streams (speaker, chair) and sends its
 * microphone and its camera's low layer (the chair's console and the technicians watch halls as
 * thumbnails; nobody watches a hall larger unless it speaks); the speaker sends all three layers;
 * the chair's console receives the programme, 12 thumbnails and the audio. Between nodes, each
 * track needed on a node comes once (a pipe per track per node, issue 13): the speaker's camera
 * (every layer it sends) and microphone and the chair's microphone to every other node with
 * peers, and each thumbnail of the console from its hall's node.
 */
import { movesOffLostNodes, placeWithGroup, placementRules, STAFF_PEER_KEYS, type PlacementRules } from '../../../server/core/placement.ts';
import type { MediaNodeRecord, PlacementRecord } from '../../../server/protocol/cluster.ts';
import type { ConferencePlan } from '../../../server/protocol/plan.ts';
import { REGIONS, regionOf } from './plan.ts';

/** Packets per second and kbit/s of each stream (bench:fanout's clip: 30 fps VP8 at 150/500/1850 kbit/s, Opus in 20 ms packets). */
export const STREAMS = {
  audio: { pps: 50, kbps: 40 },
  low: { pps: 30, kbps: 150 },
  mid: { pps: 52, kbps: 500 },
  high: { pps: 193, kbps: 1850 },
} as const;
const AUDIO = STREAMS.audio;
const ALL_LAYERS_PPS = STREAMS.low.pps + STREAMS.mid.pps + STREAMS.high.pps;
/** What a hall receives and sends. */
export const HALL = { outPps: STREAMS.high.pps + 2 * AUDIO.pps, outKbps: STREAMS.high.kbps + 2 * AUDIO.kbps, inPps: AUDIO.pps + STREAMS.low.pps };
const CONSOLE_THUMBNAILS = 12;

/**
 * The measured cost of a packet the SFU handles (in or out), µs of worker CPU: bench:fanout of
 * 2026-11-23 16:29 (docs/benchmarks.md, raw output): 0.81 cores at 75,762 packets out and 18,833 in
 * per second, the 212-bridge meeting on one worker; 0.81e6 / 94,595 = 8.56 µs. (Issue 14: that
 * run's harness dropped packets at its own sockets, so the figure is quoted, not re-measured; pass
 * --us-per-packet with a valid bench:fanout figure when there is one.)
 */
export const MEASURED = { usPerPacket: 8.56, source: 'bench:fanout 2026-11-23T16:29:58Z (docs/benchmarks.md): sfu_cores 0.81 / (out_pps 75762 + in_pps 18833)' };

export interface NodeSize {
  /** Workers (cores) of a media node. */
  cores: number;
  /** The share of its cores a node may use at the planned load (room for a switch, a failover, RTCP). */
  utilisation: number;
  usPerPacket: number;
}

/** Peers a node of this size takes: its CPU budget over a hall's packets. */
export function capacityOf(size: NodeSize): number {
  return Math.floor((size.cores * size.utilisation * 1e6) / (size.usPerPacket * (HALL.inPps + HALL.outPps)));
}

/** N node records, labelled by region in proportion to the halls of each region (each region at least one node when N ≥ 3). */
export function makeNodes(n: number, capacity: number, plan: ConferencePlan, cores: number): MediaNodeRecord[] {
  const provinces = plan.bridges.filter((b) => b.tier === 'district').map((b) => b.id);
  const halls = REGIONS.map((r) => plan.bridges.filter((b) => {
    const p = b.tier === 'district' ? b.id : b.tier === 'commune' ? b.parentId! : null;
    return p !== null && regionOf(provinces.indexOf(p)) === r;
  }).length);
  const total = halls.reduce((a, b) => a + b, 0);
  const share = halls.map((h) => (n >= REGIONS.length ? 1 : 0) + ((n - (n >= REGIONS.length ? REGIONS.length : 0)) * h) / total);
  const counts = share.map(Math.floor);
  const order = share.map((s, i) => [s - Math.floor(s), i] as const).sort((a, b) => b[0] - a[0]);
  for (let k = 0, left = n - counts.reduce((a, b) => a + b, 0); k < left; k++) counts[order[k]![1]]!++;
  const labels = counts.flatMap((c, i) => Array.from({ length: c }, () => REGIONS[i]!));
  return labels.map((region, i) => ({
    nodeId: `node${String(i + 1).padStart(3, '0')}`,
    mediaUrl: `https://media${i + 1}.example.vn`,
    nodeApiUrl: `http://10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:3000`,
    announcedIp: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    workers: cores,
    load: { peers: 0, consumers: 0, cpu: 0 },
    capacity,
    labels: { region },
    draining: false,
    startedAt: 0,
    renewedAt: 0,
  }));
}

/** Every peer key of a plan in the order pages would come (plan order, then the staff consoles). */
export function peerKeys(plan: ConferencePlan): string[] {
  return [...plan.bridges.map((b) => b.id), ...STAFF_PEER_KEYS];
}

/** Places every peer as ClusterPlacement does (placeWithGroup at each first request); null when some peer found no node. */
export function placeAll(nodes: MediaNodeRecord[], plan: ConferencePlan, rules: PlacementRules = placementRules(plan)): Map<string, PlacementRecord> | null {
  const placements = new Map<string, PlacementRecord>();
  for (const key of peerKeys(plan)) {
    if (placements.has(key)) continue;
    const moves = placeWithGroup(nodes, placements, key, rules);
    if (moves.length === 0) return null;
    for (const m of moves) placements.set(m.peerKey, { peerKey: m.peerKey, nodeId: m.to!, epoch: m.epoch + 1, at: 0, reason: 'placed' });
  }
  return placements;
}

/** Whether the survivors take every peer of the busiest node when it is lost (movesOffLostNodes, the failover rule). */
export function survivesOneLoss(nodes: MediaNodeRecord[], placements: Map<string, PlacementRecord>, rules: PlacementRules): { lost: string; moved: number; homeless: number } {
  const count = new Map<string, number>();
  for (const p of placements.values()) count.set(p.nodeId, (count.get(p.nodeId) ?? 0) + 1);
  const lost = [...count].sort((a, b) => b[1] - a[1])[0]![0];
  const moves = movesOffLostNodes(nodes.filter((n) => n.nodeId !== lost), placements, rules);
  return { lost, moved: moves.length, homeless: moves.filter((m) => m.to === null).length };
}

export interface Traffic {
  nodes: number;
  perNode: { nodeId: string; region: string; peers: number; outPps: number; inPps: number; pipeInPps: number; pipeOutPps: number; cpuCores: number }[];
  interNodePps: number;
  interNodeKbps: number;
  /** Σ over nodes of the tracks coming in: each needed track once per node. */
  interNodeTracks: number;
  totalCpuCores: number;
  perProvince: { provinceId: string; halls: number; nodes: number; downPps: number; downMbps: number }[];
}

/** The packets each node handles, with the speaker `speaker` on air and the chair's console watching `thumbnails`. */
export function traffic(plan: ConferencePlan, placements: Map<string, PlacementRecord>, nodes: MediaNodeRecord[], usPerPacket: number, speaker: string): Traffic {
  const nodeOf = (key: string): string => placements.get(key)!.nodeId;
  const chairHall = plan.bridges.find((b) => b.tier === 'province')!.id;
  const provinces = plan.bridges.filter((b) => b.tier === 'district').map((b) => b.id);
  const thumbnails = provinces.slice(0, CONSOLE_THUMBNAILS);
  const per = new Map(nodes.map((n) => [n.nodeId, { nodeId: n.nodeId, region: n.labels.region ?? '', peers: 0, outPps: 0, inPps: 0, pipeInPps: 0, pipeOutPps: 0, cpuCores: 0 }]));
  for (const b of plan.bridges) {
    const n = per.get(nodeOf(b.id))!;
    n.peers++;
    n.outPps += HALL.outPps;
    n.inPps += b.id === speaker ? AUDIO.pps + ALL_LAYERS_PPS : HALL.inPps;
  }
  const consoleNode = per.get(nodeOf('chair'))!;
  consoleNode.peers++;
  consoleNode.outPps += STREAMS.high.pps + 2 * AUDIO.pps + CONSOLE_THUMBNAILS * STREAMS.low.pps;
  for (const key of STAFF_PEER_KEYS.filter((k) => k !== 'chair')) per.get(nodeOf(key))!.peers++;
  let tracks = 0;
  let kbps = 0;
  const pipe = (from: string, to: string, pps: number, k: number): void => {
    if (from === to) return;
    per.get(from)!.pipeOutPps += pps;
    per.get(to)!.pipeInPps += pps;
    tracks++;
    kbps += k;
  };
  for (const n of per.values()) {
    if (n.peers === 0) continue;
    pipe(nodeOf(speaker), n.nodeId, ALL_LAYERS_PPS, STREAMS.low.kbps + STREAMS.mid.kbps + STREAMS.high.kbps);
    pipe(nodeOf(speaker), n.nodeId, AUDIO.pps, AUDIO.kbps);
    pipe(nodeOf(chairHall), n.nodeId, AUDIO.pps, AUDIO.kbps);
  }
  for (const t of thumbnails) pipe(nodeOf(t), consoleNode.nodeId, STREAMS.low.pps, STREAMS.low.kbps);
  let total = 0;
  for (const n of per.values()) {
    n.cpuCores = ((n.outPps + n.inPps + n.pipeInPps + n.pipeOutPps) * usPerPacket) / 1e6;
    total += n.cpuCores;
  }
  const perProvince = provinces.map((p) => {
    const halls = plan.bridges.filter((b) => b.id === p || b.parentId === p);
    return { provinceId: p, halls: halls.length, nodes: new Set(halls.map((b) => nodeOf(b.id))).size, downPps: halls.length * HALL.outPps, downMbps: (halls.length * HALL.outKbps) / 1000 };
  });
  const used = [...per.values()].filter((n) => n.peers > 0);
  return {
    nodes: used.length,
    perNode: used,
    interNodePps: used.reduce((s, n) => s + n.pipeOutPps, 0),
    interNodeKbps: kbps,
    interNodeTracks: tracks,
    totalCpuCores: total,
    perProvince,
  };
}

/** The fewest nodes of this size that place every peer and still place them all with the busiest node lost. */
export function nodesNeeded(plan: ConferencePlan, size: NodeSize, maxNodes = 500): { fit: number; withSpare: number; nodes: MediaNodeRecord[]; placements: Map<string, PlacementRecord>; loss: ReturnType<typeof survivesOneLoss> } {
  const rules = placementRules(plan);
  const capacity = capacityOf(size);
  const peers = peerKeys(plan).length;
  let fit = 0;
  for (let n = Math.max(1, Math.ceil(peers / capacity)); n <= maxNodes; n++) {
    const nodes = makeNodes(n, capacity, plan, size.cores);
    const placements = placeAll(nodes, plan, rules);
    if (!placements) continue;
    if (!fit) fit = n;
    const loss = n > 1 ? survivesOneLoss(nodes, placements, rules) : { lost: '', moved: 0, homeless: peers };
    if (loss.homeless === 0) return { fit, withSpare: n, nodes, placements, loss };
  }
  throw new Error(`more than ${maxNodes} nodes of ${size.cores} cores needed`);
}
