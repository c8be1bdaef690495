// The embedded default store of conferences: state, log and change announcements in this process.
// It keeps the same JSON as the redis store (not live objects), so a caller that mutates what it
// loaded changes nothing stored and both stores behave alike in tests.
import { ConferenceWatchers } from './ConferenceWatchers.ts';
import type { LogEntry } from '../../core/conference/index.ts';
import {
  updateWithRetry,
  type ConferenceStore,
  type StoreChange,
  type StoreChangeListener,
  type StoredConference,
  type StoreSubscription,
  type StoreWrite,
  type UpdateOptions,
  type UpdateOutcome,
  type UpdateStep,
} from '../ConferenceStore.ts';
import { checkWrite, decodeLogEntry, decodeState, encodeConfig, encodeLogEntry, encodeState } from '../codec.ts';
import { StoreError } from '../errors.ts';
import { OpenGuard } from './OpenGuard.ts';

interface Entry {
  version: number;
  state: string | null;
  config: string | null;
  log: string[];
}

/** Conferences kept in this process; lost when it exits. */
export class MemoryConferenceStore implements ConferenceStore {
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new ConferenceWatchers<StoreChange>();
  readonly #open = new OpenGuard();

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#open.closed;
  }

  /** The stored state and its version, or null. */
  async load(conferenceId: string): Promise<StoredConference | null> {
    const e = this.#entry(conferenceId, false);
    if (!e || e.state === null || e.config === null) return null;
    return { state: decodeState(conferenceId, e.state, e.config), version: e.version };
  }

  /** The stored version, 0 when absent. */
  async version(conferenceId: string): Promise<number> {
    const e = this.#entry(conferenceId, false);
    return e && e.state !== null ? e.version : 0;
  }

  /** Writes if the version is still expectedVersion; the new version or null. */
  async compareAndSet(conferenceId: string, expectedVersion: number, write: StoreWrite): Promise<number | null> {
    checkWrite(conferenceId, write);
    const e = this.#entry(conferenceId, true)!;
    const stored = e.state === null ? 0 : e.version;
    if (stored !== expectedVersion) return null;
    const first = write.log[0];
    if (first && first.seq !== e.log.length + 1) {
      throw new StoreError('log_gap', `log does not continue [conferenceId:${conferenceId}, length:${e.log.length}, seq:${first.seq}]`);
    }
    if (e.state === null) e.config = encodeConfig(write.state);
    e.state = encodeState(write.state);
    e.version = stored + 1;
    e.log.push(...write.log.map(encodeLogEntry));
    this.#announce({ kind: 'write', conferenceId, version: e.version, seq: write.state.seq });
    return e.version;
  }

  /** Read, apply, compare-and-set, retry on conflict. */
  async update<R>(conferenceId: string, fn: (current: StoredConference | null) => UpdateStep<R>, options?: UpdateOptions): Promise<UpdateOutcome<R>> {
    this.#open.assert();
    return updateWithRetry(this, conferenceId, fn, options);
  }

  /** Appends entries that continue the log. */
  async appendLog(conferenceId: string, entries: readonly LogEntry[]): Promise<void> {
    const e = this.#entry(conferenceId, true)!;
    for (const entry of entries) {
      if (entry.seq <= e.log.length) continue;
      if (entry.seq !== e.log.length + 1) {
        throw new StoreError('log_gap', `log does not continue [conferenceId:${conferenceId}, length:${e.log.length}, seq:${entry.seq}]`);
      }
      e.log.push(encodeLogEntry(entry));
    }
  }

  /** Entries with seq > afterSeq. */
  async readLog(conferenceId: string, afterSeq = 0, limit = Number.POSITIVE_INFINITY): Promise<LogEntry[]> {
    const e = this.#entry(conferenceId, false);
    if (!e) return [];
    const from = Math.max(0, Math.floor(afterSeq));
    const to = Number.isFinite(limit) ? from + Math.max(0, Math.floor(limit)) : e.log.length;
    return e.log.slice(from, to).map((json) => decodeLogEntry(conferenceId, json));
  }

  /** Listens to writes of one conference. */
  async subscribe(conferenceId: string, listener: StoreChangeListener): Promise<StoreSubscription> {
    this.#open.assert(conferenceId);
    return this.#listeners.watch(conferenceId, listener);
  }

  /** Forgets a conference's state and log. */
  async drop(conferenceId: string): Promise<void> {
    this.#open.assert(conferenceId);
    this.#entries.delete(conferenceId);
  }

  /** Drops everything and the listeners; idempotent. */
  async close(): Promise<void> {
    if (!this.#open.close()) return;
    this.#entries.clear();
    this.#listeners.clear();
  }

  #entry(conferenceId: string, create: boolean): Entry | undefined {
    this.#open.assert(conferenceId);
    let e = this.#entries.get(conferenceId);
    if (!e && create) {
      e = { version: 0, state: null, config: null, log: [] };
      this.#entries.set(conferenceId, e);
    }
    return e;
  }

  // Listeners hear of a write after the writer's call returns, as with redis pub/sub.
  #announce(change: StoreChange): void {
    this.#listeners.tell(change.conferenceId, change, true);
  }
}
