// Storage of a running conference: its state (with a version number that every write bumps), its
// event log (numbered by the core's seq, no gaps), and the announcement of every write to the
// processes that share the store. Tokens and presence leases have stores of their own
// (TokenStore.ts, PresenceStore.ts); one implementation may serve several (RedisStore does).
//
// Decisions:
// - The log is NOT kept in the stored state. The core appends to `state.log`; the stores keep the
//   state with `log: []` and the entries in a list of their own, appended in the same atomic step
//   as the state write. Otherwise every command would rewrite the whole history (after 2,000
//   commands the log alone is ~650 kB of JSON).
// - The configuration (bridges, programme, speaking rules) is written once, when the conference
//   is created: the core never changes it, and it is about half of a fresh state.
// - One writer at a time per conference through optimistic concurrency: compareAndSet writes only
//   when the stored version is the one the caller read; update() retries on conflict.
import type { ConferenceState, LogEntry } from '../core/conference/index.ts';
import { StoreError } from './errors.ts';

/** A conference's state as stored, with the version of that write (1 for the first). */
export interface StoredConference {
  state: ConferenceState;
  version: number;
}

/** One write: the next state and the log entries it appended (state.log itself is not stored). */
export interface StoreWrite {
  state: ConferenceState;
  log: readonly LogEntry[];
}

/** Announced to subscribers after every write, or 'resync' when announcements may have been missed. */
export type StoreChange = { kind: 'write'; conferenceId: string; version: number; seq: number } | { kind: 'resync'; conferenceId: string };

/** Listener of a conference's changes. */
export type StoreChangeListener = (change: StoreChange) => void;

/** A subscription to changes; close() is idempotent. */
export interface StoreSubscription {
  close(): Promise<void>;
}

/** A listener whose failure neither undoes the change announced nor keeps the other listeners from hearing of it (token and plan announcements). */
export function watchSafely<A>(listener: (announcement: A) => void): (announcement: A) => void {
  return (announcement) => {
    try {
      listener(announcement);
    } catch {
      // The listener's own problem.
    }
  };
}

/** What an update step decided: a write (or none) and the value handed back to the caller. */
export interface UpdateStep<R> {
  write?: StoreWrite;
  result: R;
}

/** Outcome of update(): the step's result and the conference as it stands after it. */
export interface UpdateOutcome<R> {
  result: R;
  /** The state written, or the latest one read when the step wrote nothing; null if there is none. */
  stored: StoredConference | null;
  written: boolean;
  attempts: number;
}

/** Options of update(). */
export interface UpdateOptions {
  /** A state the caller believes current: the first attempt uses it instead of a read. */
  current?: StoredConference | null;
  /** Attempts before giving up with a 'conflict' error (default 50). */
  maxAttempts?: number;
}

/** Storage of conferences: state with versions, event log, change announcements. */
export interface ConferenceStore {
  /** The stored state and its version, or null when the conference was never written. */
  load(conferenceId: string): Promise<StoredConference | null>;

  /** The stored version alone (0 when the conference was never written): a cheap freshness check. */
  version(conferenceId: string): Promise<number>;

  /**
   * Writes the state and appends its log entries atomically if the stored version is still
   * expectedVersion (0: the conference does not exist yet). The new version, or null on conflict.
   */
  compareAndSet(conferenceId: string, expectedVersion: number, write: StoreWrite): Promise<number | null>;

  /**
   * Reads, applies fn and writes through compareAndSet, retrying on conflict, so that writers of one
   * conference never overwrite each other. fn may run several times and must be pure.
   */
  update<R>(conferenceId: string, fn: (current: StoredConference | null) => UpdateStep<R>, options?: UpdateOptions): Promise<UpdateOutcome<R>>;

  /** Appends entries continuing the log: entries already stored (by seq) are skipped, a gap is refused. */
  appendLog(conferenceId: string, entries: readonly LogEntry[]): Promise<void>;

  /** Log entries with seq > afterSeq, oldest first, at most limit of them. */
  readLog(conferenceId: string, afterSeq?: number, limit?: number): Promise<LogEntry[]>;

  /** Calls listener after every write of the conference (by any process sharing the store). */
  subscribe(conferenceId: string, listener: StoreChangeListener): Promise<StoreSubscription>;

  /** Deletes the state and log of a conference. */
  drop(conferenceId: string): Promise<void>;
}

/** The optimistic update loop shared by the stores: read, decide, compare-and-set, retry. */
export async function updateWithRetry<R>(
  store: Pick<ConferenceStore, 'load' | 'version' | 'compareAndSet'>,
  conferenceId: string,
  fn: (current: StoredConference | null) => UpdateStep<R>,
  options: UpdateOptions = {},
): Promise<UpdateOutcome<R>> {
  const maxAttempts = options.maxAttempts ?? 50;
  let current: StoredConference | null | undefined = options.current;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (current === undefined || attempt > 1) current = await store.load(conferenceId);
    const step = fn(current);
    if (!step.write) {
      // A refusal or no-op decided on the caller's copy stands only if that copy is still current.
      const hinted = attempt === 1 && options.current !== undefined;
      if (hinted && (await store.version(conferenceId)) !== (current?.version ?? 0)) continue;
      return { result: step.result, stored: current, written: false, attempts: attempt };
    }
    const version = await store.compareAndSet(conferenceId, current?.version ?? 0, step.write);
    if (version !== null) {
      return { result: step.result, stored: { state: withoutLog(step.write.state), version }, written: true, attempts: attempt };
    }
    // Spread retries of writers that keep colliding; the first few go at once.
    if (attempt > 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 2)));
  }
  throw new StoreError('conflict', `gave up after concurrent writes [conferenceId:${conferenceId}, attempts:${maxAttempts}]`);
}

/** The state as the stores keep it: the log lives apart, so state.log is always empty. */
export function withoutLog(state: ConferenceState): ConferenceState {
  return state.log.length === 0 ? state : { ...state, log: [] };
}
