// GET /metrics: every bridge's link and the workers' load for Prometheus, through prom-client (the
// exposition format, escaping and HELP/TYPE lines are its business). Names use Prometheus's base
// units: seconds, ratios (0..1), bytes per second.
import type { Request, Response } from 'express';
import { Gauge, Registry } from 'prom-client';
import type { Conference } from '../app/Conference.ts';
import type { WorkerPool } from '../../sfu/index.ts';
import { requireRole, wrap } from './rest.ts';
import { HEALTH_STATUSES, type HealthStatus, type LinkSample } from '../core/health.ts';
import type { NodeLine } from '../app/placement/MediaPlacement.ts';

/** The value of diemcau_bridge_status for each status (its HELP says so). */
export const STATUS_VALUE: Record<HealthStatus, number> = { ok: 0, degraded: 1, bad: 2, offline: 3, absent: 4 };

const BRIDGE_LABELS = ['bridge', 'tier', 'name'] as const;
type BridgeLabels = (typeof BRIDGE_LABELS)[number];

/** One gauge per measured quantity of a bridge's last sample, with its conversion to base units. */
const PER_BRIDGE: { name: string; help: string; pick: (s: LinkSample) => number | undefined }[] = [
  { name: 'diemcau_bridge_rtt_seconds', help: 'Round trip between the server and the hall', pick: (s) => ms(s.rttMs) },
  { name: 'diemcau_bridge_jitter_seconds', help: 'Jitter of what the hall sends', pick: (s) => ms(s.jitterMs) },
  { name: 'diemcau_bridge_loss_up_ratio', help: 'Share of the packets lost from the hall to the server over the last interval (0..1)', pick: (s) => pct(s.lossUpPct) },
  { name: 'diemcau_bridge_loss_down_ratio', help: 'Share of the packets lost from the server to the hall over the last interval (0..1)', pick: (s) => pct(s.lossDownPct) },
  { name: 'diemcau_bridge_up_bytes_per_second', help: 'What the hall sends the server', pick: (s) => kbps(s.bitrateUpKbps) },
  { name: 'diemcau_bridge_down_bytes_per_second', help: 'What the server sends the hall', pick: (s) => kbps(s.bitrateDownKbps) },
  { name: 'diemcau_bridge_nacks_per_second', help: "NACKs on the hall's link over the last interval", pick: (s) => s.nackPerSec },
];

/** One gauge per figure of a media node (the placement's view of every node). */
const PER_NODE: { name: string; help: string; pick: (n: NodeLine) => number | null | undefined }[] = [
  { name: 'diemcau_node_up', help: "Whether a media node's lease is alive (1) or it was lost with peers still placed on it (0)", pick: (n) => (n.alive ? 1 : 0) },
  { name: 'diemcau_node_draining', help: 'Whether a media node is draining (its halls leave one by one)', pick: (n) => (n.draining ? 1 : 0) },
  { name: 'diemcau_node_placed', help: 'Peers (halls, consoles) placed on a media node', pick: (n) => n.placed },
  { name: 'diemcau_node_capacity', help: 'Peers a media node takes at most', pick: (n) => n.capacity },
  { name: 'diemcau_node_peers', help: 'Peers connected to a media node', pick: (n) => n.load.peers },
  { name: 'diemcau_node_consumers', help: 'Consumers on a media node', pick: (n) => n.load.consumers },
  { name: 'diemcau_node_cpu', help: "CPU of a media node's workers (1 = one core)", pick: (n) => n.load.cpu },
  { name: 'diemcau_node_workers', help: 'mediasoup workers of a media node', pick: (n) => n.workers },
];

const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : v / 1000);
const pct = (v: number | undefined): number | undefined => (v === undefined ? undefined : v / 100);
const kbps = (v: number | undefined): number | undefined => (v === undefined ? undefined : (v * 1000) / 8);

/**
 * The registry of one server: gauges that read the current conference and the pool when
 * Prometheus scrapes (nothing is kept between scrapes; a bridge without a value has no series).
 */
export function metricsRegistry(current: () => Conference, pool: WorkerPool | undefined): Registry {
  const registry = new Registry();
  const labelsOf = (conference: Conference): ((id: string) => Record<BridgeLabels, string>) => {
    const bridges = new Map(conference.plan.bridges.map((b) => [b.id, b]));
    return (id) => ({ bridge: id, tier: bridges.get(id)?.tier ?? '', name: bridges.get(id)?.name ?? id });
  };
  new Gauge({
    name: 'diemcau_bridge_status',
    help: 'Link status of a bridge: 0 ok, 1 degraded, 2 bad, 3 offline (dropped), 4 absent (never connected)',
    labelNames: BRIDGE_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      const conference = current();
      const labels = labelsOf(conference);
      for (const s of conference.health.book.summary()) this.set(labels(s.bridgeId), STATUS_VALUE[s.status]);
    },
  });
  for (const family of PER_BRIDGE) {
    new Gauge({
      name: family.name,
      help: family.help,
      labelNames: BRIDGE_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        const conference = current();
        const labels = labelsOf(conference);
        for (const s of conference.health.book.summary()) {
          const v = s.last ? family.pick(s.last) : undefined;
          if (v !== undefined && Number.isFinite(v)) this.set(labels(s.bridgeId), v);
        }
      },
    });
  }
  new Gauge({
    name: 'diemcau_bridges',
    help: 'Bridges by link status',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      const counts = Object.fromEntries(HEALTH_STATUSES.map((s) => [s, 0])) as Record<HealthStatus, number>;
      for (const s of current().health.book.summary()) counts[s.status]++;
      for (const status of HEALTH_STATUSES) this.set({ status }, counts[status]);
    },
  });
  // A control-only instance has no workers of its own.
  if (pool) {
    new Gauge({
      name: 'diemcau_worker_load',
      help: 'Peers and consumers placed on each mediasoup worker',
      labelNames: ['worker'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of pool.slots) this.set({ worker: String(s.index) }, s.load);
      },
    });
  }
  // Per media node (issue 13): the embedded default has one, "local" (this server).
  for (const family of PER_NODE) {
    new Gauge({
      name: family.name,
      help: family.help,
      labelNames: ['node'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const n of current().placement.nodes()) {
          const v = family.pick(n);
          if (v !== null && v !== undefined && Number.isFinite(v)) this.set({ node: n.nodeId }, v);
        }
      },
    });
  }
  // Pipes between nodes, each way: transports (one per node pair) and the tracks they carry (one per track per node pair).
  const pipeGauge = (name: string, help: string, pick: (pipes: NonNullable<NodeLine['pipes']>) => { in: number; out: number } | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['node', 'direction'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const n of current().placement.nodes()) {
          const counts = n.pipes ? pick(n.pipes) : undefined;
          if (!counts) continue;
          this.set({ node: n.nodeId, direction: 'in' }, counts.in);
          this.set({ node: n.nodeId, direction: 'out' }, counts.out);
        }
      },
    });
  };
  pipeGauge('diemcau_node_pipes', 'Pipe transports between a media node and the others', (p) => p);
  pipeGauge('diemcau_node_pipe_tracks', 'Tracks crossing the pipes between a media node and the others (one per track per node pair and direction)', (p) => p.tracks);
  return registry;
}

/** GET /metrics, for Prometheus with the technicians' token as bearer (the API's entry found it); refusals in the API's JSON error format. */
export function metricsHandler(current: () => Conference, pool: WorkerPool | undefined) {
  const registry = metricsRegistry(current, pool);
  return wrap(async (_req: Request, res: Response): Promise<void> => {
    requireRole(res, ['technician'], 'the technicians\' token only');
    res.type(registry.contentType).send(await registry.metrics());
  });
}
