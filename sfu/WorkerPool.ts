import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';

/** How the pool starts its workers and where they listen. */
export interface WorkerPoolOptions {
  /** Number of mediasoup workers (one per CPU core by default). */
  numWorkers: number;
  /** IP the WebRtcServers bind to. */
  listenIp: string;
  /** IP announced in ICE candidates (the address halls reach). */
  announcedIp?: string;
  /** Worker i listens on basePort + i (UDP and TCP). */
  webRtcBasePort: number;
  /** Range for pipe transports between routers. */
  rtcMinPort: number;
  rtcMaxPort: number;
  logLevel?: ms.WorkerLogLevel;
}

/** One worker of the pool with its WebRtcServer. */
export interface WorkerSlot {
  readonly index: number;
  worker: ms.Worker;
  webRtcServer: ms.WebRtcServer;
  /** Peers and consumers currently placed on this worker (all sessions). */
  load: number;
}

export type WorkerPoolEvents = {
  /** A worker died; its routers and transports are gone. */
  workerdied: [{ index: number; pid: number; error: Error }];
  /** A dead worker was replaced; sessions rebuild their router on it. */
  workerreplaced: [{ index: number; pid: number }];
  /** A replacement could not be started (retried later). */
  workerfailed: [{ index: number; error: Error }];
};

/** A pool of mediasoup workers, one WebRtcServer port each; replaces workers that die. */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #slots: WorkerSlot[] = [];
  #closed = false;

  private constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
  }

  /** Starts all workers; rejects (after closing what started) if any fails. */
  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(options.numWorkers) || options.numWorkers < 1) {
      throw new TypeError(`invalid numWorkers [numWorkers:${options.numWorkers}]`);
    }
    const pool = new WorkerPool(options);
    try {
      for (let index = 0; index < options.numWorkers; index++) {
        const { worker, webRtcServer } = await pool.#startWorker(index);
        const slot: WorkerSlot = { index, worker, webRtcServer, load: 0 };
        pool.#slots.push(slot);
        pool.#watch(slot);
      }
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#slots.length;
  }

  /** The slots, in index order (live view). */
  get slots(): readonly WorkerSlot[] {
    return this.#slots;
  }

  /** The slot at an index. */
  slot(index: number): WorkerSlot {
    const slot = this.#slots[index];
    if (!slot) throw new RangeError(`no worker slot [index:${index}]`);
    return slot;
  }

  /** Index of the live worker carrying the least load, among those `eligible` accepts. */
  leastLoaded(eligible: (index: number) => boolean = () => true): number {
    let best = -1;
    for (const slot of this.#slots) {
      if (slot.worker.died || slot.worker.closed || !eligible(slot.index)) continue;
      if (best < 0 || slot.load < this.#slots[best]!.load) best = slot.index;
    }
    if (best < 0) throw new Error('no live worker');
    return best;
  }

  /** Adjusts the consumer count used for placement. */
  addLoad(index: number, delta: number): void {
    const slot = this.#slots[index];
    if (slot) slot.load = Math.max(0, slot.load + delta);
  }

  /** The address plain RTP transports listen on and announce (as the WebRtcServers do). */
  get listenInfo(): { ip: string; announcedIp?: string } {
    return { ip: this.#options.listenIp, announcedIp: this.#options.announcedIp };
  }

  /** Process ids of the workers (for CPU accounting and tests). */
  pids(): number[] {
    return this.#slots.map((s) => s.worker.pid);
  }

  /** Closes every worker; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.#slots) slot.worker.close();
    this.removeAllListeners();
  }

  async #startWorker(index: number): Promise<{ worker: ms.Worker; webRtcServer: ms.WebRtcServer }> {
    const o = this.#options;
    const worker = await mediasoup.createWorker({
      logLevel: o.logLevel ?? 'warn',
      rtcMinPort: o.rtcMinPort,
      rtcMaxPort: o.rtcMaxPort,
      appData: { index },
    });
    try {
      const port = o.webRtcBasePort + index;
      const webRtcServer = await worker.createWebRtcServer({
        listenInfos: [
          { protocol: 'udp', ip: o.listenIp, announcedIp: o.announcedIp, port },
          { protocol: 'tcp', ip: o.listenIp, announcedIp: o.announcedIp, port },
        ],
      });
      return { worker, webRtcServer };
    } catch (error) {
      worker.close();
      throw error;
    }
  }

  #watch(slot: WorkerSlot): void {
    slot.worker.on('died', (error) => {
      if (this.#closed) return;
      const pid = slot.worker.pid;
      slot.load = 0;
      this.emit('workerdied', { index: slot.index, pid, error });
      void this.#replace(slot, 0);
    });
  }

  async #replace(slot: WorkerSlot, attempt: number): Promise<void> {
    if (this.#closed) return;
    try {
      const { worker, webRtcServer } = await this.#startWorker(slot.index);
      if (this.#closed) {
        worker.close();
        return;
      }
      slot.worker = worker;
      slot.webRtcServer = webRtcServer;
      slot.load = 0;
      this.#watch(slot);
      this.emit('workerreplaced', { index: slot.index, pid: worker.pid });
    } catch (error) {
      // The dead worker's port can take a moment to be released; retry with backoff.
      this.emit('workerfailed', { index: slot.index, error: error as Error });
      const delay = Math.min(5000, 100 * 2 ** attempt);
      setTimeout(() => void this.#replace(slot, attempt + 1), delay).unref();
    }
  }
}
