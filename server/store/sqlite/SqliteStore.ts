// The embedded durable store: conferences, their logs, tokens and presence leases in one SQLite
// file (better-sqlite3), so that a plain `npm start` that is killed and started again finds every
// link, the floor holder, the queue and the deadline where they were. It serves all three store
// interfaces, as RedisStore does; redis stays the store several server processes share.
//
// Schema (user_version 1):
//   conference    (id PK, version, state JSON without config and log, config JSON written once)
//   log           (conference_id, seq) PK → entry JSON          one row per LogEntry, no gaps
//   token         (conference_id, token) PK, grant_key UNIQUE per conference → record JSON
//   revoked_token (conference_id, token) PK → revoked_at        why a refused link is refused
//   presence      (conference_id, instance_id) PK → bridge_ids JSON, until (lease end, epoch ms)
//   plan          (conference_id PK) → version, text (the plan's JSON), stored_at   the plan loaded by REST
//                 (created IF NOT EXISTS: a file of an earlier release gains it at open)
//
// Durability and cost: WAL journal, synchronous=NORMAL. A commit appends to the WAL with no fsync
// (the WAL is synced at checkpoints), so a killed process loses nothing; a power cut may lose the
// last commits before a checkpoint. better-sqlite3 is synchronous: a write runs on the event loop.
// A command (the state's JSON, 77 kB after 200 speeches, plus its log rows) costs about 0.5 ms
// at the median and 6 ms at p99 (a WAL checkpoint) on the 2-core machine; test/unit/store/
// sqlite-store.test.ts prints the figure. Worth moving to a worker thread only if that grows. The file is opened in exclusive
// locking mode: a second server on the same data directory is refused at start instead of two
// processes writing one conference without seeing each other's announcements.
import { ConferenceWatchers } from '../memory/ConferenceWatchers.ts';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SystemClock, type Clock, type LogEntry } from '../../core/conference/index.ts';
import { checkWrite, decodeLogEntry, decodeState, decodeToken, encodeConfig, encodeLogEntry, encodeState, encodeToken } from '../codec.ts';
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
  watchSafely,
} from '../ConferenceStore.ts';
import { checkConferenceId, StoreError } from '../errors.ts';
import type { PresenceStore } from '../PresenceStore.ts';
import { type PlanAnnouncement, type PlanAnnouncementListener, type PlanStore, type StoredPlan } from '../PlanStore.ts';
import type { StoreResource } from '../Stores.ts';
import type { IssueMode, TokenAnnouncement, TokenAnnouncementListener, TokenRecord, TokenStore } from '../TokenStore.ts';

/** The file name of the store inside the data directory. */
export const SQLITE_FILE = 'diemcau.sqlite';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS conference (
  id TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL, config TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS log (
  conference_id TEXT NOT NULL, seq INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (conference_id, seq)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS token (
  conference_id TEXT NOT NULL, token TEXT NOT NULL, grant_key TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (conference_id, token)
) WITHOUT ROWID, STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS token_grant ON token (conference_id, grant_key);
CREATE TABLE IF NOT EXISTS revoked_token (
  conference_id TEXT NOT NULL, token TEXT NOT NULL, revoked_at INTEGER NOT NULL, PRIMARY KEY (conference_id, token)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS presence (
  conference_id TEXT NOT NULL, instance_id TEXT NOT NULL, bridge_ids TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (conference_id, instance_id)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS plan (
  conference_id TEXT PRIMARY KEY, version INTEGER NOT NULL, text TEXT NOT NULL, stored_at INTEGER NOT NULL
) STRICT;
`;

/** Options of SqliteStore.open. */
export interface SqliteStoreOptions {
  /** The database file (created with its directory), or ':memory:'. */
  file: string;
  /** Time of the presence leases and of revocations. */
  clock?: Clock;
}


/** Conferences, tokens, presence leases and loaded plans in one SQLite file of this machine. */
export class SqliteStore implements ConferenceStore, TokenStore, PresenceStore, PlanStore, StoreResource {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #listeners = new ConferenceWatchers<StoreChange>();
  /** Watchers of token announcements, told before the writer's call returns (every writer is in this process: the file is exclusive). */
  readonly #tokenWatchers = new ConferenceWatchers<TokenAnnouncement>();
  /** Watchers of plan announcements (every writer is in this process), told after the writer's call returns. */
  readonly #planWatchers = new ConferenceWatchers<PlanAnnouncement>();
  readonly #q: ReturnType<typeof statements>;
  #closed = false;

  private constructor(file: string, db: Database.Database, clock: Clock) {
    this.file = file;
    this.#db = db;
    this.#clock = clock;
    this.#q = statements(db);
  }

  /** Opens (or creates) the store; refuses a file another process holds. */
  static open(options: SqliteStoreOptions): SqliteStore {
    const file = options.file;
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(file, { timeout: 0 });
    } catch (error) {
      throw new StoreError('unavailable', `cannot open the data file [file:${file}]: ${(error as Error).message}`, { cause: error });
    }
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // Take the lock now: a second server on this file fails at its start, not at its first write.
      db.exec('BEGIN IMMEDIATE; COMMIT');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new StoreError('corrupt', `data file written by a newer version [file:${file}, schema:${version}]`);
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (error) {
      db.close();
      if (error instanceof StoreError) throw error;
      const busy = (error as { code?: string }).code === 'SQLITE_BUSY';
      throw new StoreError(
        'unavailable',
        busy ? `the data file is in use by another server process [file:${file}]` : `cannot open the data file [file:${file}]: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return new SqliteStore(file, db, options.clock ?? new SystemClock());
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  // --- ConferenceStore ---------------------------------------------------------------------

  /** The stored state and its version, or null. */
  async load(conferenceId: string): Promise<StoredConference | null> {
    this.#assert(conferenceId);
    const row = one<{ version: number; state: string; config: string }>(this.#q.load, conferenceId);
    return row ? { state: decodeState(conferenceId, row.state, row.config), version: row.version } : null;
  }

  /** The stored version, 0 when absent. */
  async version(conferenceId: string): Promise<number> {
    this.#assert(conferenceId);
    const row = one<{ version: number }>(this.#q.version, conferenceId);
    return row?.version ?? 0;
  }

  /** One transaction: version check, state write, log rows; then the announcement. */
  async compareAndSet(conferenceId: string, expectedVersion: number, write: StoreWrite): Promise<number | null> {
    this.#assert(conferenceId);
    checkWrite(conferenceId, write);
    const state = encodeState(write.state);
    const entries = write.log.map((e) => [e.seq, encodeLogEntry(e)] as const);
    const version = this.#db.transaction((): number | null => {
      const row = one<{ version: number }>(this.#q.version, conferenceId);
      if ((row?.version ?? 0) !== expectedVersion) return null;
      const first = entries[0];
      if (first && first[0] !== this.#logLength(conferenceId) + 1) {
        throw new StoreError('log_gap', `log does not continue [conferenceId:${conferenceId}, seq:${first[0]}]`);
      }
      if (row) this.#q.updateState.run(expectedVersion + 1, state, conferenceId);
      else this.#q.insertState.run(conferenceId, 1, state, encodeConfig(write.state));
      for (const [seq, entry] of entries) this.#q.insertLog.run(conferenceId, seq, entry);
      return expectedVersion + 1;
    }).immediate();
    if (version !== null) this.#announce({ kind: 'write', conferenceId, version, seq: write.state.seq });
    return version;
  }

  /** Read, apply, compare-and-set, retry on conflict. */
  async update<R>(conferenceId: string, fn: (current: StoredConference | null) => UpdateStep<R>, options?: UpdateOptions): Promise<UpdateOutcome<R>> {
    this.#assert(conferenceId);
    return updateWithRetry(this, conferenceId, fn, options);
  }

  /** Appends entries that continue the log; stored ones are skipped. */
  async appendLog(conferenceId: string, entries: readonly LogEntry[]): Promise<void> {
    this.#assert(conferenceId);
    this.#db.transaction(() => {
      let length = this.#logLength(conferenceId);
      for (const entry of entries) {
        if (entry.seq <= length) continue;
        if (entry.seq !== length + 1) throw new StoreError('log_gap', `log does not continue [conferenceId:${conferenceId}, length:${length}, seq:${entry.seq}]`);
        this.#q.insertLog.run(conferenceId, entry.seq, encodeLogEntry(entry));
        length++;
      }
    }).immediate();
  }

  /** Entries with seq > afterSeq, oldest first. */
  async readLog(conferenceId: string, afterSeq = 0, limit = Number.POSITIVE_INFINITY): Promise<LogEntry[]> {
    this.#assert(conferenceId);
    const from = Math.max(0, Math.floor(afterSeq));
    const count = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1;
    const rows = this.#q.readLog.all(conferenceId, from, count) as { entry: string }[];
    return rows.map((r) => decodeLogEntry(conferenceId, r.entry));
  }

  /** Listens to writes of one conference (writers are in this process: the file is exclusive). */
  async subscribe(conferenceId: string, listener: StoreChangeListener): Promise<StoreSubscription> {
    this.#assert(conferenceId);
    return this.#listeners.watch(conferenceId, listener);
  }

  /** Deletes the state and the log of a conference. */
  async drop(conferenceId: string): Promise<void> {
    this.#assert(conferenceId);
    this.#db.transaction(() => {
      this.#q.dropState.run(conferenceId);
      this.#q.dropLog.run(conferenceId);
    }).immediate();
  }

  // --- TokenStore ----------------------------------------------------------------------------

  /** Stores tokens per grant in one transaction; a replaced token is recorded as revoked. */
  async issueTokens(conferenceId: string, records: readonly TokenRecord[], mode: IssueMode): Promise<TokenRecord[]> {
    this.#assert(conferenceId);
    const now = this.#clock.now();
    const replaced: string[] = [];
    const out = this.#db.transaction(() =>
      records.map((record) => {
        const old = one<{ token: string; record: string }>(this.#q.tokenOfGrant, conferenceId, record.grant);
        if (old && mode === 'if_absent') return decodeToken(conferenceId, old.record);
        if (old) {
          this.#q.deleteToken.run(conferenceId, old.token);
          if (old.token !== record.token) {
            this.#q.insertRevoked.run(conferenceId, old.token, now);
            replaced.push(old.token);
          }
        }
        this.#q.insertToken.run(conferenceId, record.token, record.grant, encodeToken(record));
        return { ...record };
      }),
    ).immediate();
    if (replaced.length) this.#tokenWatchers.tell(conferenceId, { kind: 'revoked', tokens: replaced });
    return out;
  }

  /** Announcements of this conference's tokens, delivered synchronously with the change. */
  async watchTokens(conferenceId: string, listener: TokenAnnouncementListener): Promise<StoreSubscription> {
    this.#assert(conferenceId);
    return this.#tokenWatchers.watch(conferenceId, watchSafely(listener));
  }

  /** The record of a token in force, or null. */
  async findToken(conferenceId: string, token: string): Promise<TokenRecord | null> {
    this.#assert(conferenceId);
    const row = one<{ record: string }>(this.#q.findToken, conferenceId, token);
    return row ? decodeToken(conferenceId, row.record) : null;
  }

  /** Every token in force. */
  async listTokens(conferenceId: string): Promise<TokenRecord[]> {
    this.#assert(conferenceId);
    return (this.#q.listTokens.all(conferenceId) as { record: string }[]).map((r) => decodeToken(conferenceId, r.record));
  }

  /** Revokes one token (its grant has none until a reissue) and records when. */
  async revokeToken(conferenceId: string, token: string): Promise<TokenRecord | null> {
    this.#assert(conferenceId);
    const now = this.#clock.now();
    const revoked = this.#db.transaction((): TokenRecord | null => {
      const row = one<{ record: string }>(this.#q.findToken, conferenceId, token);
      if (!row) return null;
      this.#q.deleteToken.run(conferenceId, token);
      this.#q.insertRevoked.run(conferenceId, token, now);
      return decodeToken(conferenceId, row.record);
    }).immediate();
    if (revoked) this.#tokenWatchers.tell(conferenceId, { kind: 'revoked', tokens: [token] });
    return revoked;
  }

  /** When a token was revoked (or replaced by a reissue), or null if it never was. */
  async revokedAt(conferenceId: string, token: string): Promise<number | null> {
    this.#assert(conferenceId);
    const row = one<{ revoked_at: number }>(this.#q.revokedAt, conferenceId, token);
    return row?.revoked_at ?? null;
  }

  /** Deletes the tokens of a conference, and its record of revoked ones. */
  async dropTokens(conferenceId: string): Promise<void> {
    this.#assert(conferenceId);
    const dropped = this.#db.transaction(() => {
      const n = this.#q.dropTokens.run(conferenceId).changes;
      this.#q.dropRevoked.run(conferenceId);
      return n;
    }).immediate();
    if (dropped > 0) this.#tokenWatchers.tell(conferenceId, { kind: 'resync' });
  }

  // --- PresenceStore ---------------------------------------------------------------------------

  /** Declares this instance's connected bridges until now + ttlMs. */
  async setPresence(conferenceId: string, instanceId: string, bridgeIds: readonly string[], ttlMs: number): Promise<void> {
    this.#assert(conferenceId);
    this.#q.setPresence.run(conferenceId, instanceId, JSON.stringify(bridgeIds), this.#clock.now() + Math.max(1, Math.round(ttlMs)));
  }

  /** Bridges on other live instances (expired leases are deleted on the way). */
  async presentElsewhere(conferenceId: string, exceptInstanceId: string): Promise<Set<string>> {
    this.#assert(conferenceId);
    const now = this.#clock.now();
    this.#q.expirePresence.run(conferenceId, now);
    const out = new Set<string>();
    for (const row of this.#q.presence.all(conferenceId, exceptInstanceId, now) as { bridge_ids: string }[]) {
      try {
        for (const b of JSON.parse(row.bridge_ids) as unknown[]) if (typeof b === 'string') out.add(b);
      } catch {
        // A corrupt lease counts as none.
      }
    }
    return out;
  }

  /** Deletes every lease of a conference. */
  async dropPresence(conferenceId: string): Promise<void> {
    this.#assert(conferenceId);
    this.#q.dropPresence.run(conferenceId);
  }

  // --- PlanStore ---------------------------------------------------------------------------

  /** The plan last stored, or null. */
  async storedPlan(conferenceId: string): Promise<StoredPlan | null> {
    this.#assert(conferenceId);
    const row = one<{ version: number; text: string; stored_at: number }>(this.#q.plan, conferenceId);
    return row ? { version: row.version, text: row.text, storedAt: row.stored_at } : null;
  }

  /** Stores the next version in one transaction; then the announcement. */
  async storePlan(conferenceId: string, text: string, storedAt: number): Promise<number> {
    this.#assert(conferenceId);
    const version = this.#db.transaction((): number => {
      const next = (one<{ version: number }>(this.#q.plan, conferenceId)?.version ?? 0) + 1;
      this.#q.setPlan.run(conferenceId, next, text, storedAt);
      return next;
    }).immediate();
    this.#planWatchers.tell(conferenceId, { kind: 'stored', version }, true);
    return version;
  }

  /** Listens to the conference's plan announcements (this process is the only writer). */
  async watchPlans(conferenceId: string, listener: PlanAnnouncementListener): Promise<StoreSubscription> {
    this.#assert(conferenceId);
    return this.#planWatchers.watch(conferenceId, watchSafely(listener));
  }

  /** Deletes the stored plan. */
  async dropPlan(conferenceId: string): Promise<void> {
    this.#assert(conferenceId);
    this.#q.dropPlan.run(conferenceId);
  }

  // --- life --------------------------------------------------------------------------------

  /** Closes the file (the WAL is checkpointed into it); idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#tokenWatchers.clear();
    this.#planWatchers.clear();
    this.#db.close();
  }

  #logLength(conferenceId: string): number {
    const row = one<{ n: number | null }>(this.#q.logLength, conferenceId);
    return row?.n ?? 0;
  }

  #assert(conferenceId: string): void {
    if (this.#closed) throw new StoreError('closed', 'store closed');
    checkConferenceId(conferenceId);
  }

  // Listeners hear of a write after the writer's call returns, as with redis pub/sub.
  #announce(change: StoreChange): void {
    this.#listeners.tell(change.conferenceId, change, true);
  }
}

/** The one row a statement reads, typed by the caller (the SQL above says its columns). */
function one<T>(statement: Database.Statement, ...params: unknown[]): T | undefined {
  return statement.get(...params) as T | undefined;
}

/** The store's prepared statements, compiled once. */
function statements(db: Database.Database) {
  return {
    load: db.prepare('SELECT version, state, config FROM conference WHERE id = ?'),
    version: db.prepare('SELECT version FROM conference WHERE id = ?'),
    insertState: db.prepare('INSERT INTO conference (id, version, state, config) VALUES (?, ?, ?, ?)'),
    updateState: db.prepare('UPDATE conference SET version = ?, state = ? WHERE id = ?'),
    dropState: db.prepare('DELETE FROM conference WHERE id = ?'),
    logLength: db.prepare('SELECT MAX(seq) AS n FROM log WHERE conference_id = ?'),
    insertLog: db.prepare('INSERT INTO log (conference_id, seq, entry) VALUES (?, ?, ?)'),
    readLog: db.prepare('SELECT entry FROM log WHERE conference_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
    dropLog: db.prepare('DELETE FROM log WHERE conference_id = ?'),
    tokenOfGrant: db.prepare('SELECT token, record FROM token WHERE conference_id = ? AND grant_key = ?'),
    findToken: db.prepare('SELECT record FROM token WHERE conference_id = ? AND token = ?'),
    listTokens: db.prepare('SELECT record FROM token WHERE conference_id = ?'),
    insertToken: db.prepare('INSERT INTO token (conference_id, token, grant_key, record) VALUES (?, ?, ?, ?)'),
    deleteToken: db.prepare('DELETE FROM token WHERE conference_id = ? AND token = ?'),
    dropTokens: db.prepare('DELETE FROM token WHERE conference_id = ?'),
    insertRevoked: db.prepare('INSERT OR REPLACE INTO revoked_token (conference_id, token, revoked_at) VALUES (?, ?, ?)'),
    revokedAt: db.prepare('SELECT revoked_at FROM revoked_token WHERE conference_id = ? AND token = ?'),
    dropRevoked: db.prepare('DELETE FROM revoked_token WHERE conference_id = ?'),
    setPresence: db.prepare('INSERT OR REPLACE INTO presence (conference_id, instance_id, bridge_ids, until) VALUES (?, ?, ?, ?)'),
    presence: db.prepare('SELECT bridge_ids FROM presence WHERE conference_id = ? AND instance_id != ? AND until >= ?'),
    expirePresence: db.prepare('DELETE FROM presence WHERE conference_id = ? AND until < ?'),
    dropPresence: db.prepare('DELETE FROM presence WHERE conference_id = ?'),
    plan: db.prepare('SELECT version, text, stored_at FROM plan WHERE conference_id = ?'),
    setPlan: db.prepare('INSERT OR REPLACE INTO plan (conference_id, version, text, stored_at) VALUES (?, ?, ?, ?)'),
    dropPlan: db.prepare('DELETE FROM plan WHERE conference_id = ?'),
  };
}
