import type { Request, Response } from 'express';
import type { Conference } from '../app/Conference.ts';
import type { WorkerPool } from '../../sfu/index.ts';
import { requireRole, wrap } from './rest.ts';
import type { LinkSample } from '../core/health.ts';
import type { NodeLine } from '../app/placement/MediaPlacement.ts';

const STATUS_VALUE = { ok: 0, degraded: 1, bad: 2, offline: 3 } as const;

/** A Prometheus label value, escaped. */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The Prometheus text exposition of every bridge's link and the workers' load. */
export function metricsText(conference: Conference, pool: WorkerPool | undefined): string {
  const bridges = new Map(conference.plan.bridges.map((b) => [b.id, b]));
  const lines: string[] = [];
  const family = (name: string, help: string, rows: [string, number | undefined][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of rows) if (value !== undefined && Number.isFinite(value)) lines.push(`${name}{${labels}} ${value}`);
  };
  const summary = conference.health.book.summary();
  const labelsOf = (id: string): string => {
    const b = bridges.get(id);
    return `bridge="${label(id)}",tier="${b?.tier ?? ''}",name="${label(b?.name ?? id)}"`;
  };
  const perBridge = (pick: (s: LinkSample) => number | undefined): [string, number | undefined][] =>
    summary.map((s) => [labelsOf(s.bridgeId), s.last ? pick(s.last) : undefined]);
  family('diemcau_bridge_status', 'Link status of a bridge: 0 ok, 1 degraded, 2 bad, 3 offline', summary.map((s) => [labelsOf(s.bridgeId), STATUS_VALUE[s.status]]));
  family('diemcau_bridge_rtt_ms', 'Round trip between the server and the hall', perBridge((s) => s.rttMs));
  family('diemcau_bridge_loss_up_percent', 'Packets lost from the hall to the server, last interval', perBridge((s) => s.lossUpPct));
  family('diemcau_bridge_loss_down_percent', 'Packets lost from the server to the hall, last interval', perBridge((s) => s.lossDownPct));
  family('diemcau_bridge_jitter_ms', 'Jitter of what the hall sends', perBridge((s) => s.jitterMs));
  family('diemcau_bridge_bitrate_up_kbps', 'Bitrate the hall sends', perBridge((s) => s.bitrateUpKbps));
  family('diemcau_bridge_bitrate_down_kbps', 'Bitrate the server sends the hall', perBridge((s) => s.bitrateDownKbps));
  family('diemcau_bridge_nacks_per_second', 'NACKs on the hall\'s link', perBridge((s) => s.nackPerSec));
  const counts = { ok: 0, degraded: 0, bad: 0, offline: 0 };
  for (const s of summary) counts[s.status]++;
  family('diemcau_bridges', 'Bridges by link status', Object.entries(counts).map(([k, v]) => [`status="${k}"`, v]));
  // A control-only instance has no workers of its own.
  if (pool) family('diemcau_worker_load', 'Peers and consumers placed on each mediasoup worker', pool.slots.map((s) => [`worker="${s.index}"`, s.load]));
  // Per media node (issue 13): the embedded default has one, "local" (this server).
  const nodes = conference.placement.nodes();
  const perNode = (pick: (n: NodeLine) => number | null | undefined): [string, number | undefined][] => nodes.map((n) => [`node="${label(n.nodeId)}"`, pick(n) ?? undefined]);
  family('diemcau_node_up', 'Whether a media node\'s lease is alive (1) or it was lost with peers still placed on it (0)', perNode((n) => (n.alive ? 1 : 0)));
  family('diemcau_node_draining', 'Whether a media node is draining (its halls leave one by one)', perNode((n) => (n.draining ? 1 : 0)));
  family('diemcau_node_placed', 'Peers (halls, consoles) placed on a media node', perNode((n) => n.placed));
  family('diemcau_node_capacity', 'Peers a media node takes at most', perNode((n) => n.capacity));
  family('diemcau_node_peers', 'Peers connected to a media node', perNode((n) => n.load.peers));
  family('diemcau_node_consumers', 'Consumers on a media node', perNode((n) => n.load.consumers));
  family('diemcau_node_cpu', 'CPU of a media node\'s workers (1 = one core)', perNode((n) => n.load.cpu));
  family('diemcau_node_workers', 'mediasoup workers of a media node', perNode((n) => n.workers));
  const pipeRows: [string, number | undefined][] = nodes.flatMap((n) => (n.pipes ? [[`node="${label(n.nodeId)}",direction="in"`, n.pipes.in], [`node="${label(n.nodeId)}",direction="out"`, n.pipes.out]] : []));
  family('diemcau_node_pipes', 'Pipe transports between a media node and the others', pipeRows);
  return lines.join('\n') + '\n';
}

/** GET /metrics, for Prometheus with the technicians' token as bearer (the API's entry found it); refusals in the API's JSON error format. */
export function metricsHandler(current: () => Conference, pool: WorkerPool | undefined) {
  return wrap(async (_req: Request, res: Response): Promise<void> => {
    requireRole(res, ['technician'], 'the technicians\' token only');
    res.type('text/plain; version=0.0.4; charset=utf-8').send(metricsText(current(), pool));
  });
}
