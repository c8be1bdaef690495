import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import type { WorkerPool } from './WorkerPool.ts';
import { SfuError } from './errors.ts';

/** A track published on this node: its producer is on the conference's router of one worker. */
export interface LocalHome {
  readonly worker: number;
}

/** A track published on another media node (issue 13): it reaches this node through a pipe. */
export interface RemoteHome {
  readonly node: string;
}

/** Where a published track's producer lives. */
export type TrackHome = LocalHome | RemoteHome;

/** Brings tracks of other nodes to this one (the Cascade): resolves with the worker whose router has the track. */
export interface RemoteTrackSource {
  ensure(trackId: string, node: string): Promise<number | undefined>;
}

export type RouterSetEvents = {
  /** A worker died: its router, the transports on it and the pipes into it are gone. */
  workerlost: [{ index: number }];
  /** The conference has a router again on the replaced worker. */
  routerrebuilt: [{ index: number }];
  close: [];
};

/**
 * The routers of one conference, one per worker of the pool; the pipes that carry a track from
 * its home router to the routers where it is consumed (one pipe per track per target, made once
 * and reused); placement of peers (the least loaded live worker); and the loss and replacement of
 * workers. The session asks two things of it: "where does this peer go" and "make this track
 * available on that router".
 */
export class RouterSet extends EventEmitter<RouterSetEvents> {
  readonly #pool: WorkerPool;
  readonly #conferenceId: string;
  readonly #codecs: ms.RtpCodecCapability[];
  readonly #routers: (ms.Router | undefined)[] = [];
  /** Pipes in progress or made, per target worker, keyed by track. */
  readonly #pipes = new Map<number, Map<string, Promise<void>>>();
  readonly #poolListeners: { [K in 'workerdied' | 'workerreplaced']: (e: { index: number }) => void };
  /** Where tracks homed on other nodes come from (none on a single node). */
  remote: RemoteTrackSource | undefined;
  #closed = false;

  private constructor(pool: WorkerPool, conferenceId: string, codecs: ms.RtpCodecCapability[]) {
    super();
    this.#pool = pool;
    this.#conferenceId = conferenceId;
    this.#codecs = codecs;
    this.#poolListeners = {
      workerdied: ({ index }) => this.#onWorkerDied(index),
      workerreplaced: ({ index }) => void this.#onWorkerReplaced(index),
    };
  }

  /** Creates a router on every worker of the pool (closing what it made if one fails). */
  static async create(pool: WorkerPool, options: { conferenceId: string; codecs: ms.RtpCodecCapability[] }): Promise<RouterSet> {
    const set = new RouterSet(pool, options.conferenceId, options.codecs);
    try {
      for (const slot of pool.slots) set.#routers[slot.index] = await set.#createRouter(slot.index);
    } catch (error) {
      set.close();
      throw error;
    }
    pool.on('workerdied', set.#poolListeners.workerdied);
    pool.on('workerreplaced', set.#poolListeners.workerreplaced);
    return set;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The router on each worker (undefined where the worker died and is not rebuilt yet). */
  get routers(): readonly (ms.Router | undefined)[] {
    return this.#routers;
  }

  /** The live router on a worker, if any. */
  router(index: number): ms.Router | undefined {
    return this.#routers[index];
  }

  /** The router capabilities a client loads its device with. */
  get rtpCapabilities(): ms.RtpCapabilities {
    const router = this.#routers.find((r) => r && !r.closed);
    if (!router) throw new SfuError('invalid_state', 'no live router');
    return router.rtpCapabilities;
  }

  /** The WebRtcServer of a worker (its one port for every WebRTC transport). */
  webRtcServer(index: number): ms.WebRtcServer {
    return this.#pool.slot(index).webRtcServer;
  }

  /** Where plain RTP transports listen and what address they announce. */
  get listenInfo(): { ip: string; announcedIp?: string } {
    return this.#pool.listenInfo;
  }

  /** Workers as monitoring sees them. */
  workers(): { index: number; pid: number; load: number; hasRouter: boolean }[] {
    return this.#pool.slots.map((s) => ({ index: s.index, pid: s.worker.pid, load: s.load, hasRouter: !!this.#routers[s.index] }));
  }

  /** The live worker with a router that carries the least load (placement of a new peer). */
  place(): number {
    try {
      return this.#pool.leastLoaded((index) => this.#routers[index] !== undefined);
    } catch {
      throw new SfuError('invalid_state', 'no live router');
    }
  }

  /**
   * Moves one unit of load (a peer) from a worker that is gone to the least loaded live one, and
   * returns where it is now: the same worker if none is live yet (the next transport request
   * tries again).
   */
  rehome(from: number): number {
    let to: number;
    try {
      to = this.place();
    } catch {
      return from;
    }
    this.addLoad(from, -1);
    this.addLoad(to, 1);
    return to;
  }

  /** Counts a peer or a consumer on a worker (placement reads it; -1 when it goes). */
  addLoad(index: number, delta: number): void {
    this.#pool.addLoad(index, delta);
  }

  /**
   * Makes a track consumable on the router of worker `target`: nothing to do at home; elsewhere
   * one pipe per track per target router, made on first use and reused by every consumer there.
   * Resolves when the track is there (or cannot be: a router is gone); rejects if piping failed.
   *
   * A track homed on another node (issue 13) first comes to this node through the `remote`
   * source (one pipe per track per node, over a PipeTransport pair between the two nodes), onto
   * its cascade router, and from there to `target` like a local track; callers do not change.
   */
  async makeAvailable(trackId: string, home: TrackHome, target: number): Promise<void> {
    if ('node' in home) {
      if (!this.remote) throw new SfuError('invalid_state', `no cascade for a track of another node [node:${home.node}]`);
      const worker = await this.remote.ensure(trackId, home.node);
      if (worker !== undefined) await this.makeAvailable(trackId, { worker }, target);
      return;
    }
    if (home.worker === target) return;
    let pipes = this.#pipes.get(target);
    if (!pipes) this.#pipes.set(target, (pipes = new Map()));
    let pipe = pipes.get(trackId);
    if (!pipe) {
      const from = this.#routers[home.worker];
      const to = this.#routers[target];
      if (!from || !to) return;
      const made = pipes;
      pipe = from.pipeToRouter({ producerId: trackId, router: to }).then(
        ({ pipeProducer }) => {
          pipeProducer!.observer.once('close', () => made.delete(trackId));
        },
        (error: Error) => {
          made.delete(trackId);
          throw error;
        },
      );
      pipes.set(trackId, pipe);
    }
    await pipe;
  }

  /** Closes every router (and so everything on them); idempotent. The pool stays. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.off('workerdied', this.#poolListeners.workerdied);
    this.#pool.off('workerreplaced', this.#poolListeners.workerreplaced);
    for (const router of this.#routers) router?.close();
    this.#routers.length = 0;
    this.#pipes.clear();
    this.emit('close');
    this.removeAllListeners();
  }

  async #createRouter(index: number): Promise<ms.Router> {
    const router = await this.#pool.slot(index).worker.createRouter({ mediaCodecs: this.#codecs, appData: { conferenceId: this.#conferenceId } });
    router.observer.once('close', () => {
      if (this.#routers[index] === router) this.#routers[index] = undefined;
    });
    return router;
  }

  #onWorkerDied(index: number): void {
    if (this.#closed) return;
    this.#routers[index] = undefined;
    this.#pipes.delete(index);
    this.emit('workerlost', { index });
  }

  async #onWorkerReplaced(index: number): Promise<void> {
    if (this.#closed) return;
    try {
      const router = await this.#createRouter(index);
      if (this.#closed) {
        router.close();
        return;
      }
      this.#routers[index] = router;
      this.emit('routerrebuilt', { index });
    } catch {
      // The pool will report the worker again if it dies; nothing to rebuild here.
    }
  }
}
