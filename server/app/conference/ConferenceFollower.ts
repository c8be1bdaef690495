// A conference read from the store and never written (issue 13): what a media node needs of the
// conference it carries. It subscribes to the store's changes like a runner and reloads the state
// after each write, but decides nothing, arms no timer and writes nothing: in every role the
// control plane writes the state and the media follows it. (In the `both` role the process's own
// runner is the follower's equivalent: it is a view of the same store, already loaded.)
import { EventEmitter } from 'node:events';
import type { ConferenceState, LogEntry } from '../../core/conference/index.ts';
import type { ConferenceStore, StoreChange, StoredConference, StoreSubscription } from '../../store/index.ts';
import { coalescing } from '../coalesce.ts';
import type { StateChange } from './ConferenceRunner.ts';

/**
 * A conference's state as it changes, read only: the runner (control plane) and the follower
 * (media node) both are one. Listeners of 'state' run after every change, with the new state in
 * `state`.
 */
export interface ConferenceStateSource {
  readonly conferenceId: string;
  readonly state: Readonly<ConferenceState>;
  readLog(afterSeq?: number, limit?: number): Promise<LogEntry[]>;
  on(event: 'state', listener: (change: StateChange) => void): unknown;
  off(event: 'state', listener: (change: StateChange) => void): unknown;
}

export type ConferenceFollowerEvents = {
  state: [change: StateChange];
  close: [];
};

/** Options of ConferenceFollower.create. */
export interface ConferenceFollowerOptions {
  conferenceId: string;
  store: ConferenceStore;
  /** Failures with no caller (a reload after a change). */
  onError?: (error: unknown, context: string) => void;
}

/** Follows one conference in the store. */
export class ConferenceFollower extends EventEmitter<ConferenceFollowerEvents> implements ConferenceStateSource {
  readonly conferenceId: string;
  readonly #store: ConferenceStore;
  readonly #onError: (error: unknown, context: string) => void;
  #stored: StoredConference | null = null;
  #subscription: StoreSubscription | null = null;
  /** Loads the state; changes announced meanwhile cause one more load, not one each. */
  readonly #reload = coalescing(() => this.#load());
  /** Resolves the first time the conference is found in the store. */
  #found!: () => void;
  readonly #exists = new Promise<void>((resolve) => (this.#found = resolve));
  #closed = false;

  private constructor(options: ConferenceFollowerOptions) {
    super();
    this.conferenceId = options.conferenceId;
    this.#store = options.store;
    this.#onError = options.onError ?? (() => undefined);
  }

  /**
   * Subscribes, then loads the conference; resolves once the conference exists in the store (a
   * media node may start before any control instance has created it).
   */
  static async create(options: ConferenceFollowerOptions): Promise<ConferenceFollower> {
    const follower = new ConferenceFollower(options);
    // Subscribe before reading, so that no write between the read and the subscription goes unseen.
    follower.#subscription = await options.store.subscribe(options.conferenceId, (change) => follower.#onChange(change));
    try {
      await follower.#reload();
      await follower.#exists;
    } catch (error) {
      await follower.close();
      throw error;
    }
    if (follower.#closed) throw new Error('conference follower closed');
    return follower;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The state as last read (its log is empty: see readLog). */
  get state(): Readonly<ConferenceState> {
    if (!this.#stored) throw new Error(`conference not loaded [conferenceId:${this.conferenceId}]`);
    return this.#stored.state;
  }

  /** Version of the state last read. */
  get version(): number {
    return this.#stored?.version ?? 0;
  }

  readLog(afterSeq = 0, limit?: number): Promise<LogEntry[]> {
    return this.#store.readLog(this.conferenceId, afterSeq, limit);
  }

  /** Stops following; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#found();
    const subscription = this.#subscription;
    this.#subscription = null;
    await subscription?.close().catch((error: unknown) => this.#onError(error, 'unsubscribe'));
    this.emit('close');
    this.removeAllListeners();
  }

  #onChange(change: StoreChange): void {
    if (this.#closed) return;
    if (change.kind === 'write' && change.version <= this.version) return;
    void this.#reload();
  }

  async #load(): Promise<void> {
    try {
      const stored = await this.#store.load(this.conferenceId);
      if (this.#closed || !stored || stored.version <= this.version) return;
      this.#stored = stored;
      this.#found();
      this.emit('state', { version: stored.version, seq: stored.state.seq, origin: 'remote' });
    } catch (error) {
      if (!this.#closed) this.#onError(error, 'reload after a change');
    }
  }
}
