// The feed's wire (FeedWire: relay, re-encoder, press socket) in a worker thread, seen from the
// main thread. The control plane's event loop can stall for hundreds of milliseconds (an agenda
// change with a grant: 311 ms in a loaded test run); the relay's 20 ms ticks and the press socket
// must not stall with it. The main thread sends commands (the SFU's consumers, the overlay, the
// content panel, close) and receives what the wire reports (keyframe requests, picture changes,
// the MPEG-TS for the recorders, figures). A thread that dies by itself is reported (`died`),
// never left as a silent dead feed; its owner (FeedOutput) starts another.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';
import type { Overlay } from './FeedEncoder.ts';
import type { RelaySource } from './FeedRelay.ts';
import type { FeedVideoEvent, FeedWireEvents, FeedWireSetup, FeedWireStats } from './FeedWire.ts';

/** What the main thread tells the wire. */
export type FeedCommand =
  | { type: 'add'; source: RelaySource }
  | { type: 'slot'; consumerId: string; slot: string }
  | { type: 'remove'; consumerId: string }
  | { type: 'overlay'; overlay: Overlay }
  | { type: 'panel'; png: Uint8Array | null }
  | { type: 'close' };

/** What the wire tells the main thread. */
export type FeedReport =
  | { type: 'ready'; address: { ip: string; port: number } }
  | { type: 'failed'; message: string }
  | { type: 'keyframe' }
  | { type: 'video'; event: FeedVideoEvent }
  | { type: 'ts'; packets: Uint8Array; at: number }
  | { type: 'encoder'; pid: number | undefined }
  | { type: 'encoderExit'; message: string }
  | { type: 'problem'; message: string }
  | { type: 'stats'; stats: FeedWireStats }
  | { type: 'closed' };

/** The wire's figures are sent this often. */
export const FEED_STATS_MS = 250;
/** Heap of the feed's thread: the relay keeps a few frames; the MPEG-TS only passes through. */
export const FEED_THREAD_HEAP_MB = 256;
/** An orderly close (the re-encoder has 2 s to finish) is waited for this long, then the thread is terminated. */
const CLOSE_WAIT_MS = 5000;

const DEFAULT_ENTRY = new URL('./feed-thread.ts', import.meta.url);
const BOOT = new URL('../thread-boot.mjs', import.meta.url);

/** What the wire tells (FeedWireEvents), and the thread's own end. */
export type FeedThreadEvents = FeedWireEvents & {
  /** The thread ended by itself (a crash, out of memory): the wire is gone. */
  died: [message: string];
};

/** Re-encoders started by feed threads of this process: killed if the process exits before them. */
const encoders = new Set<number>();
let hooked = false;
function track(pid: number): void {
  encoders.add(pid);
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const p of encoders) killQuietly(p);
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** One feed's wire in its own thread. */
export class FeedThread extends EventEmitter<FeedThreadEvents> {
  /** Resolves when the wire listens (its address is known); rejects when it could not start. */
  readonly ready: Promise<void>;
  readonly #worker: Worker;
  readonly #clock: Clock;
  #address: { ip: string; port: number } | undefined;
  #stats: FeedWireStats | undefined;
  #encoderPid: number | undefined;
  #started = false;
  #closing: Promise<void> | undefined;
  #exited = false;
  readonly #exit: Promise<void>;
  #wound: (() => void) | undefined;

  /**
   * Starts the thread; listen to its events, then await `ready`. The wire keeps the wall clock of
   * its own thread (a clock object cannot cross); `clock` times the close here. `entry`: the
   * thread's module (a test's may wrap it).
   */
  constructor(setup: FeedWireSetup, options: { clock: Clock; entry?: URL }) {
    super();
    this.#clock = options.clock;
    const entry = options.entry ?? DEFAULT_ENTRY;
    this.#worker = new Worker(BOOT, {
      workerData: { entry: entry.href, setup },
      resourceLimits: { maxOldGenerationSizeMb: FEED_THREAD_HEAP_MB },
    });
    let settle: { resolve: () => void; reject: (e: Error) => void };
    this.ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    // Nobody may be waiting for `ready` when the thread fails at once: the rejection is still seen by whoever awaits it.
    this.ready.catch(() => undefined);
    this.#worker.on('message', (r: FeedReport) => this.#onReport(r, settle));
    let error: Error | undefined;
    this.#worker.on('error', (e) => (error = e));
    this.#exit = new Promise((resolve) =>
      this.#worker.once('exit', (code) => {
        this.#exited = true;
        // The thread's re-encoder does not die with it.
        if (this.#encoderPid !== undefined) {
          killQuietly(this.#encoderPid);
          encoders.delete(this.#encoderPid);
        }
        const why = error ? `${error.name}: ${error.message}` : `the thread exited with code ${code}`;
        if (!this.#started) settle.reject(new Error(`feed thread failed to start: ${why}`));
        else if (this.#closing === undefined) this.emit('died', why);
        resolve();
      }),
    );
  }

  #onReport(r: FeedReport, settle: { resolve: () => void; reject: (e: Error) => void }): void {
    switch (r.type) {
      case 'ready':
        this.#address = r.address;
        this.#started = true;
        settle.resolve();
        return;
      case 'failed':
        settle.reject(new Error(`feed thread failed to start: ${r.message}`));
        void this.#worker.terminate();
        return;
      case 'keyframe':
        this.emit('keyframe');
        return;
      case 'video':
        this.emit('video', r.event);
        return;
      case 'ts':
        this.emit('ts', Buffer.from(r.packets.buffer, r.packets.byteOffset, r.packets.byteLength), r.at);
        return;
      case 'encoder':
        this.#encoderPid = r.pid;
        if (r.pid !== undefined) track(r.pid);
        this.emit('encoder', r.pid);
        return;
      case 'encoderExit':
        if (this.#encoderPid !== undefined) encoders.delete(this.#encoderPid);
        this.#encoderPid = undefined;
        this.emit('encoderExit', r.message);
        return;
      case 'problem':
        this.emit('problem', r.message);
        return;
      case 'stats':
        this.#stats = r.stats;
        return;
      case 'closed':
        // The thread stopped its re-encoder itself.
        if (this.#encoderPid !== undefined) encoders.delete(this.#encoderPid);
        this.#encoderPid = undefined;
        this.#wound?.();
        return;
    }
  }

  /** Where the SFU must send what is on air (after `ready`). */
  get address(): { ip: string; port: number } {
    if (!this.#address) throw new Error('feed thread not ready');
    return this.#address;
  }

  /** The wire's figures, as last sent (every FEED_STATS_MS). */
  get stats(): FeedWireStats | undefined {
    return this.#stats;
  }

  get encoderPid(): number | undefined {
    return this.#encoderPid;
  }

  /** The worker's thread id (logs). */
  get threadId(): number {
    return this.#worker.threadId;
  }

  get alive(): boolean {
    return !this.#exited && this.#closing === undefined;
  }

  #send(command: FeedCommand): void {
    if (this.alive) this.#worker.postMessage(command);
  }

  addSource(source: RelaySource): void {
    this.#send({ type: 'add', source });
  }

  setSlot(consumerId: string, slot: string): void {
    this.#send({ type: 'slot', consumerId, slot });
  }

  removeSource(consumerId: string): void {
    this.#send({ type: 'remove', consumerId });
  }

  setOverlay(overlay: Overlay): void {
    this.#send({ type: 'overlay', overlay });
  }

  /** The content panel (null: no content). */
  setPanel(png: Buffer | null): void {
    this.#send({ type: 'panel', png });
  }

  /**
   * Stops the wire: the thread closes the re-encoder, the relay and the press socket and ends;
   * one that does not within CLOSE_WAIT_MS is terminated (and its re-encoder killed). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#exited) {
        this.#worker.postMessage({ type: 'close' } satisfies FeedCommand);
        let timer: ClockTimer | undefined;
        const wound = new Promise<void>((resolve) => (this.#wound = resolve));
        await Promise.race([this.#exit, wound, new Promise<void>((resolve) => (timer = this.#clock.setTimeout(resolve, CLOSE_WAIT_MS)))]);
        this.#clock.clearTimeout(timer);
        // Wound up (or stuck): whatever is left of the thread goes.
        if (!this.#exited) await this.#worker.terminate();
        await this.#exit;
      }
      this.removeAllListeners();
    })();
    return this.#closing;
  }
}
