// The shared store: conferences, their tokens and the instances' presence leases in redis, for
// every server process on that redis (it serves all three store interfaces over one connection:
// the Lua scripts and the keys are shared).
//
// Keys of a conference (the braces are a cluster hash tag: all keys of one conference live in one
// slot, which the multi-key scripts below need on a redis cluster):
//   diemcau:{<id>}:state    hash  version, state (JSON without config and log), config (JSON, written once)
//   diemcau:{<id>}:log      list  one JSON LogEntry per element; element i holds seq i+1
//   diemcau:{<id>}:tokens   hash  token -> TokenRecord JSON
//   diemcau:{<id>}:grants   hash  grant ('chair', 'operator:c-05971') -> token
//   diemcau:{<id>}:revoked  hash  token -> when it was revoked or replaced (epoch ms)
//   diemcau:{<id>}:changes  pub/sub channel, "<version>:<seq>" after every write
//   diemcau:{<id>}:token-changes  pub/sub channel, "revoked:<token>,<token>" when tokens stop
//                           granting (revoke, re-issue), "resync" when they were all dropped
//
// Atomicity: compareAndSet is one Lua script that checks the version field, writes the state,
// appends the log entries and publishes the change. Redis runs a script alone, so two processes
// can never both write over the same version (no WATCH, hence no dedicated connection per
// transaction: one command connection serves every conference).
import type { LogEntry } from '../core/conference/index.ts';
import {
  updateWithRetry,
  type ConferenceStore,
  type StoreChangeListener,
  type StoredConference,
  type StoreSubscription,
  type StoreWrite,
  type UpdateOptions,
  type UpdateOutcome,
  type UpdateStep,
  watchSafely,
} from './ConferenceStore.ts';
import { checkConferenceId, StoreError } from './errors.ts';
import type { PresenceStore } from './PresenceStore.ts';
import type { StoreResource } from './Stores.ts';
import type { IssueMode, TokenAnnouncement, TokenAnnouncementListener, TokenRecord, TokenStore } from './TokenStore.ts';
import { checkWrite, ConfigCache, decodeLogEntry, decodeState, decodeToken, encodeConfig, encodeLogEntry, encodeState, encodeToken } from './codec.ts';
import { connectRedis, quit, RedisChannels, Script, type RedisClient } from './redis/connection.ts';

// Lua's unpack() is limited by the stack; long appends are pushed in slices.
const PUSH_SLICE = 500;

const CAS_SCRIPT = `
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if stored ~= tonumber(ARGV[1]) then return 0 end
if #ARGV >= 7 and redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[6]) - 1 then
  return redis.error_reply('LOG_GAP log does not continue')
end
local version = stored + 1
if stored == 0 then redis.call('HSET', KEYS[1], 'config', ARGV[3]) end
redis.call('HSET', KEYS[1], 'version', version, 'state', ARGV[2])
for i = 7, #ARGV, ${PUSH_SLICE} do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + ${PUSH_SLICE - 1}, #ARGV)))
end
redis.call('PUBLISH', ARGV[4], version .. ':' .. ARGV[5])
return version
`;

const APPEND_SCRIPT = `
local length = redis.call('LLEN', KEYS[1])
for i = 1, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if seq > length then
    if seq ~= length + 1 then return redis.error_reply('LOG_GAP log does not continue') end
    redis.call('RPUSH', KEYS[1], ARGV[i + 1])
    length = length + 1
  end
end
return length
`;

// KEYS: tokens, grants, revoked. ARGV: mode, now (epoch ms), the token announcement channel, then
// (grant, token, record) per token. Replaced tokens are recorded as revoked and announced in the
// same step, so no process can see the new token before hearing of the old.
const ISSUE_SCRIPT = `
local out = {}
local replaced = {}
for i = 4, #ARGV, 3 do
  local grant, token, record = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local old = redis.call('HGET', KEYS[2], grant)
  local kept = false
  if old then kept = redis.call('HGET', KEYS[1], old) end
  if kept and ARGV[1] == 'if_absent' then
    out[#out + 1] = kept
  else
    if old then redis.call('HDEL', KEYS[1], old) end
    if old and old ~= token then
      redis.call('HSET', KEYS[3], old, ARGV[2])
      replaced[#replaced + 1] = old
    end
    redis.call('HSET', KEYS[2], grant, token)
    redis.call('HSET', KEYS[1], token, record)
    out[#out + 1] = record
  end
end
if #replaced > 0 then redis.call('PUBLISH', ARGV[3], 'revoked:' .. table.concat(replaced, ',')) end
return out
`;

// KEYS: tokens, grants, revoked. ARGV: the token, now (epoch ms), the token announcement channel.
const REVOKE_SCRIPT = `
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
local grant = cjson.decode(record).grant
if grant and redis.call('HGET', KEYS[2], grant) == ARGV[1] then redis.call('HDEL', KEYS[2], grant) end
redis.call('PUBLISH', ARGV[3], 'revoked:' .. ARGV[1])
return record
`;

const DROP_TOKENS_SCRIPT = `
local n = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if n > 0 then redis.call('PUBLISH', ARGV[1], 'resync') end
return n
`;

// The live instances' leases in one step: a lease found expired is forgotten in the same step, so
// an instance renewing between a read and a removal can never be dropped from the set while alive.
// KEYS[1] the instances set; ARGV[1] the lease key's prefix (ends with 'presence:'), ARGV[2] the
// asking instance.
const PRESENT_ELSEWHERE_SCRIPT = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[2] then
    local lease = redis.call('GET', ARGV[1] .. id)
    if lease then table.insert(out, lease) else redis.call('SREM', KEYS[1], id) end
  end
end
return out
`;

const CAS = new Script(CAS_SCRIPT);
const PRESENT_ELSEWHERE = new Script(PRESENT_ELSEWHERE_SCRIPT);
const APPEND = new Script(APPEND_SCRIPT);
const ISSUE = new Script(ISSUE_SCRIPT);
const REVOKE = new Script(REVOKE_SCRIPT);
const DROP_TOKENS = new Script(DROP_TOKENS_SCRIPT);

/** Options of a RedisStore. */
export interface RedisStoreOptions {
  /** redis://host:port[/db] */
  url: string;
  /** First part of every key and channel (default 'diemcau'). */
  prefix?: string;
  /** Connection errors (the client reconnects by itself); ignored by default. */
  onError?: (error: Error) => void;
}

/** Conferences in redis: atomic versioned writes, the log as a list, changes on pub/sub; tokens; presence leases. */
export class RedisStore implements ConferenceStore, TokenStore, PresenceStore, StoreResource {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #channels: RedisChannels;
  /** Every reload after another process's write parses the state, not the configuration again. */
  readonly #configs = new ConfigCache();
  #closed = false;

  private constructor(client: RedisClient, options: RedisStoreOptions) {
    this.#client = client;
    this.#prefix = options.prefix ?? 'diemcau';
    this.#channels = new RedisChannels(client, options.onError ?? (() => {}));
  }

  /** Connects to redis; rejects when it cannot be reached. */
  static async create(options: RedisStoreOptions): Promise<RedisStore> {
    const onError = options.onError ?? (() => {});
    return new RedisStore(await connectRedis(options.url, (error) => onError(error)), options);
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Key of one part of a conference. */
  key(conferenceId: string, part: 'state' | 'log' | 'tokens' | 'grants' | 'revoked' | 'changes' | 'token-changes' | 'instances' | `presence:${string}`): string {
    checkConferenceId(conferenceId);
    return `${this.#prefix}:{${conferenceId}}:${part}`;
  }

  /** The stored state and its version, or null. */
  async load(conferenceId: string): Promise<StoredConference | null> {
    this.#assertOpen();
    const [version, state, config] = await this.#client.hmGet(this.key(conferenceId, 'state'), ['version', 'state', 'config']);
    if (!version || !state || !config) return null;
    return { state: decodeState(conferenceId, state, config, this.#configs), version: Number(version) };
  }

  /** The stored version, 0 when absent. */
  async version(conferenceId: string): Promise<number> {
    this.#assertOpen();
    return Number((await this.#client.hGet(this.key(conferenceId, 'state'), 'version')) ?? 0);
  }

  /** One Lua script: version check, state write, log append, announcement. */
  async compareAndSet(conferenceId: string, expectedVersion: number, write: StoreWrite): Promise<number | null> {
    this.#assertOpen();
    checkWrite(conferenceId, write);
    const entries = write.log.map(encodeLogEntry);
    const reply = await this.#eval(CAS, [this.key(conferenceId, 'state'), this.key(conferenceId, 'log')], [
      String(expectedVersion),
      encodeState(write.state),
      expectedVersion === 0 ? encodeConfig(write.state) : '',
      this.key(conferenceId, 'changes'),
      String(write.state.seq),
      String(write.log[0]?.seq ?? 0),
      ...entries,
    ]);
    const version = Number(reply);
    return version > 0 ? version : null;
  }

  /** Read, apply, compare-and-set, retry on conflict. */
  async update<R>(conferenceId: string, fn: (current: StoredConference | null) => UpdateStep<R>, options?: UpdateOptions): Promise<UpdateOutcome<R>> {
    this.#assertOpen();
    return updateWithRetry(this, conferenceId, fn, options);
  }

  /** Appends entries that continue the log; stored ones are skipped. */
  async appendLog(conferenceId: string, entries: readonly LogEntry[]): Promise<void> {
    this.#assertOpen();
    if (entries.length === 0) return;
    await this.#eval(APPEND, [this.key(conferenceId, 'log')], entries.flatMap((e) => [String(e.seq), encodeLogEntry(e)]));
  }

  /** Entries with seq > afterSeq (list index = seq - 1). */
  async readLog(conferenceId: string, afterSeq = 0, limit = Number.POSITIVE_INFINITY): Promise<LogEntry[]> {
    this.#assertOpen();
    const from = Math.max(0, Math.floor(afterSeq));
    const to = Number.isFinite(limit) ? from + Math.max(0, Math.floor(limit)) - 1 : -1;
    if (to !== -1 && to < from) return [];
    const rows = await this.#client.lRange(this.key(conferenceId, 'log'), from, to);
    return rows.map((json) => decodeLogEntry(conferenceId, json));
  }

  /** Listens to the conference's channel on the store's subscriber connection. */
  async subscribe(conferenceId: string, listener: StoreChangeListener): Promise<StoreSubscription> {
    this.#assertOpen();
    return this.#channels.listen(this.key(conferenceId, 'changes'), {
      message: (message) => {
        const [version, seq] = message.split(':').map(Number);
        if (Number.isFinite(version) && Number.isFinite(seq)) listener({ kind: 'write', conferenceId, version: version!, seq: seq! });
      },
      resync: () => listener({ kind: 'resync', conferenceId }),
    });
  }

  /** Stores tokens per grant in one script. */
  async issueTokens(conferenceId: string, records: readonly TokenRecord[], mode: IssueMode): Promise<TokenRecord[]> {
    this.#assertOpen();
    if (records.length === 0) return [];
    const args = [mode, String(Date.now()), this.key(conferenceId, 'token-changes'), ...records.flatMap((r) => [r.grant, r.token, encodeToken(r)])];
    const reply = (await this.#eval(ISSUE, this.#tokenKeys(conferenceId), args)) as string[];
    return reply.map((json) => decodeToken(conferenceId, json));
  }

  /** The record of a token in force, or null. */
  async findToken(conferenceId: string, token: string): Promise<TokenRecord | null> {
    this.#assertOpen();
    const json = await this.#client.hGet(this.key(conferenceId, 'tokens'), token);
    return json ? decodeToken(conferenceId, json) : null;
  }

  /** Every token in force. */
  async listTokens(conferenceId: string): Promise<TokenRecord[]> {
    this.#assertOpen();
    const all = await this.#client.hVals(this.key(conferenceId, 'tokens'));
    return all.map((json) => decodeToken(conferenceId, json));
  }

  /** Revokes one token atomically with its grant. */
  async revokeToken(conferenceId: string, token: string): Promise<TokenRecord | null> {
    this.#assertOpen();
    const json = await this.#eval(REVOKE, this.#tokenKeys(conferenceId), [token, String(Date.now()), this.key(conferenceId, 'token-changes')]);
    return typeof json === 'string' ? decodeToken(conferenceId, json) : null;
  }

  /** When a token was revoked or replaced, or null. */
  async revokedAt(conferenceId: string, token: string): Promise<number | null> {
    this.#assertOpen();
    const at = await this.#client.hGet(this.key(conferenceId, 'revoked'), token);
    return at ? Number(at) : null;
  }

  #tokenKeys(conferenceId: string): string[] {
    return [this.key(conferenceId, 'tokens'), this.key(conferenceId, 'grants'), this.key(conferenceId, 'revoked')];
  }

  /** Deletes the state and the log of a conference. */
  async drop(conferenceId: string): Promise<void> {
    this.#assertOpen();
    await this.#client.del([this.key(conferenceId, 'state'), this.key(conferenceId, 'log')]);
    this.#configs.forget(conferenceId);
  }

  /** Deletes the tokens of a conference. */
  async dropTokens(conferenceId: string): Promise<void> {
    this.#assertOpen();
    await this.#eval(DROP_TOKENS, this.#tokenKeys(conferenceId), [this.key(conferenceId, 'token-changes')]);
  }

  /** Listens to the conference's token announcements on the store's subscriber connection. */
  async watchTokens(conferenceId: string, listener: TokenAnnouncementListener): Promise<StoreSubscription> {
    this.#assertOpen();
    const tell = watchSafely(listener);
    return this.#channels.listen(this.key(conferenceId, 'token-changes'), {
      message: (message) => {
        const announcement = parseTokenAnnouncement(message);
        if (announcement) tell(announcement);
      },
      // Announcements published while the connection was down are lost: check again; while it is down, trust nothing cached.
      resync: () => tell({ kind: 'resync' }),
      doubt: () => tell({ kind: 'doubt' }),
    });
  }


  /** Deletes the presence leases of a conference. */
  async dropPresence(conferenceId: string): Promise<void> {
    this.#assertOpen();
    const instances = await this.#client.sMembers(this.key(conferenceId, 'instances'));
    await this.#client.del([this.key(conferenceId, 'instances'), ...instances.map((i) => this.key(conferenceId, `presence:${i}`))]);
  }

  /** Declares this instance's connected bridges in a key that expires unless renewed. */
  async setPresence(conferenceId: string, instanceId: string, bridgeIds: readonly string[], ttlMs: number): Promise<void> {
    this.#assertOpen();
    await this.#client
      .multi()
      .sAdd(this.key(conferenceId, 'instances'), instanceId)
      .set(this.key(conferenceId, `presence:${instanceId}`), JSON.stringify(bridgeIds), { PX: Math.max(1, Math.round(ttlMs)) })
      .exec();
  }

  /** Bridges on other live instances (an expired lease is a dead instance, forgotten here). */
  async presentElsewhere(conferenceId: string, exceptInstanceId: string): Promise<Set<string>> {
    this.#assertOpen();
    const out = new Set<string>();
    const leases = (await this.#eval(PRESENT_ELSEWHERE, [this.key(conferenceId, 'instances')], [this.key(conferenceId, 'presence:'), exceptInstanceId])) as string[];
    for (const json of leases) {
      try {
        for (const b of JSON.parse(json) as unknown[]) if (typeof b === 'string') out.add(b);
      } catch {
        // A corrupt lease counts as none.
      }
    }
    return out;
  }

  /** Closes both connections; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([quit(this.#client), this.#channels.close()]);
  }

  async #eval(script: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await script.run(this.#client, keys, args);
    } catch (error) {
      if (String((error as Error)?.message).startsWith('LOG_GAP')) {
        throw new StoreError('log_gap', `log does not continue [key:${keys.at(-1)}]`, { cause: error });
      }
      throw error;
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreError('closed', 'store closed');
  }
}

/** A message of a token announcement channel, or null when it is not one. */
function parseTokenAnnouncement(message: string): TokenAnnouncement | null {
  if (message === 'resync') return { kind: 'resync' };
  if (!message.startsWith('revoked:')) return null;
  const tokens = message.slice('revoked:'.length).split(',').filter((t) => t.length > 0);
  return tokens.length ? { kind: 'revoked', tokens } : null;
}
