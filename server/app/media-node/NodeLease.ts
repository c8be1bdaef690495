// A media node's lease in the registry (issue 13): its record announced at start, renewed every
// half second with a lease of two and a half (a node that stops renewing is dead to everyone
// within 2.5 s, and one whose event loop stalls keeps it for 2 s at least), its load filled
// honestly (peers and consumers of its sessions, its workers' CPU as last sampled), and withdrawn
// at an orderly shutdown. A renewal never waits for a worker: the CPU is sampled beside it. A
// worker busy with a burst of requests (a hundred halls joining after a failover) answers
// getResourceUsage behind them, and a renewal that waited for it could miss the lease of a live node.
import type { WorkerPool } from '../../../sfu/index.ts';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';
import type { MediaNodeRecord } from '../../protocol/cluster.ts';
import type { NodeRegistry } from '../../store/index.ts';

/**
 * How long a node's lease lasts without renewal. A killed node's lease ends NODE_LEASE_MS after
 * its last renewal, i.e. between NODE_LEASE_MS − NODE_RENEW_MS and NODE_LEASE_MS after it died;
 * a live node whose event loop stalls loses it after a stall of at least NODE_LEASE_MS −
 * NODE_RENEW_MS. Both are 2 s or more: 2.5 s renewed every 0.5 s (it was 3 s every 1 s: the same
 * 2 s for a stall, and up to 0.5 s later for a death; bench:cascade's failovers, where the lease
 * was half of the time: docs/benchmarks.md).
 */
export const NODE_LEASE_MS = 2500;
/** How often a node renews it. */
export const NODE_RENEW_MS = 500;

/** Options of NodeLease.start. */
export interface NodeLeaseOptions {
  registry: NodeRegistry;
  /** The record without its load and times (filled here at each renewal). */
  record: Omit<MediaNodeRecord, 'load' | 'renewedAt' | 'startedAt' | 'workers'>;
  pool: WorkerPool;
  /** Peers and consumers on the node now. */
  counts: () => { peers: number; consumers: number; pipes?: NonNullable<MediaNodeRecord['pipes']> };
  clock: Clock;
  leaseMs?: number;
  renewMs?: number;
  problem: (message: string, error: unknown) => void;
}

/** Keeps a media node announced while it runs. */
export class NodeLease {
  readonly #o: NodeLeaseOptions;
  readonly #startedAt: number;
  #timer: ClockTimer | undefined;
  /** CPU milliseconds of each worker (by pid) at the last sample, and when. */
  #cpu = new Map<number, number>();
  #cpuAt = 0;
  /** The workers' CPU use as last sampled (cores). */
  #cpuLoad = 0;
  #sampling = false;
  #renewing = false;
  #closed = false;

  private constructor(options: NodeLeaseOptions) {
    this.#o = options;
    this.#startedAt = options.clock.now();
  }

  /** Announces the node (the first announcement is awaited) and renews it from then on. */
  static async start(options: NodeLeaseOptions): Promise<NodeLease> {
    const lease = new NodeLease(options);
    await lease.#renew();
    lease.#timer = options.clock.setInterval(() => void lease.#renew().catch((e: unknown) => options.problem('renewing the node lease failed', e)), options.renewMs ?? NODE_RENEW_MS, { background: true });
    return lease;
  }

  /** The record as announced now (the workers' CPU as last sampled). */
  record(): MediaNodeRecord {
    const { peers, consumers, pipes } = this.#o.counts();
    const now = this.#o.clock.now();
    return {
      ...this.#o.record,
      workers: this.#o.pool.size,
      load: { peers, consumers, cpu: this.#cpuLoad },
      ...(pipes ? { pipes } : {}),
      startedAt: this.#startedAt,
      renewedAt: now,
    };
  }

  /** Stops renewing and withdraws the node at once; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.clock.clearInterval(this.#timer);
    await this.#o.registry.withdraw(this.#o.record.nodeId).catch((e: unknown) => this.#o.problem('withdrawing the node failed', e));
  }

  async #renew(): Promise<void> {
    if (this.#closed || this.#renewing) return;
    this.#renewing = true;
    void this.#sampleCpu();
    try {
      await this.#o.registry.announce(this.record(), this.#o.leaseMs ?? NODE_LEASE_MS);
    } finally {
      this.#renewing = false;
    }
  }

  /** Samples the workers' CPU for the next renewals: one sample at a time, never awaited by a renewal. */
  async #sampleCpu(): Promise<void> {
    if (this.#sampling || this.#closed) return;
    this.#sampling = true;
    try {
      this.#cpuLoad = await this.#cpuSince(this.#o.clock.now());
    } catch (error) {
      this.#o.problem('sampling the workers\' CPU failed', error);
    } finally {
      this.#sampling = false;
    }
  }

  /** The workers' CPU use since the last call, in cores (0..1 per worker, summed). */
  async #cpuSince(now: number): Promise<number> {
    const usage = await Promise.all(
      this.#o.pool.slots.map(async (s) => {
        const u = await s.worker.getResourceUsage().catch(() => null);
        return { pid: s.worker.pid, ms: u ? u.ru_utime + u.ru_stime : undefined };
      }),
    );
    const elapsed = now - this.#cpuAt;
    let used = 0;
    const next = new Map<number, number>();
    for (const { pid, ms } of usage) {
      if (ms === undefined) continue;
      next.set(pid, ms);
      const before = this.#cpu.get(pid);
      if (before !== undefined && elapsed > 0) used += Math.max(0, ms - before) / elapsed;
    }
    this.#cpu = next;
    this.#cpuAt = now;
    return Math.round(used * 1000) / 1000;
  }
}
