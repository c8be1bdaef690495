// The registry of media nodes in redis (issue 13). Each node's record is a key that expires with
// its lease; a set lists the ids ever announced, and readers forget the ids whose key is gone.
//   diemcau:{nodes}:ids        set     node ids
//   diemcau:{nodes}:node:<id>  string  MediaNodeRecord JSON, PX = the lease
// Watchers poll every 250 ms (one poll per registry, whatever the number of watchers) and compare
// with what they saw: a node that came or changed is 'up', one whose lease ran out is 'down'.
import { MediaNodeRecord } from '../../protocol/cluster.ts';
import type { NodeChange, NodeRegistry, NodeWatch } from '../NodeRegistry.ts';
import type { StoreResource } from '../Stores.ts';
import { parseJson, RedisResource, Script, type RedisClient, type RedisResourceOptions } from './connection.ts';

/** Deletes a node's record if it is still of the incarnation given (KEYS: the record, the ids; ARGV: incarnation, node id). */
const END_LEASE = new Script(`
local held = redis.call('GET', KEYS[1])
if not held then return 0 end
local ok, r = pcall(cjson.decode, held)
if not ok or type(r) ~= 'table' or r.incarnation ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
`);

/** How often watchers look at the registry (a node's lease that ran out is news within this). */
export const NODE_POLL_MS = 250;

/** Options of a RedisNodeRegistry. */
export interface RedisNodeRegistryOptions extends RedisResourceOptions {
  /** How often watchers poll (NODE_POLL_MS). */
  pollMs?: number;
}

/** Media nodes' leases in redis. */
export class RedisNodeRegistry extends RedisResource implements NodeRegistry, StoreResource {
  readonly #pollMs: number;
  readonly #onError: (error: Error) => void;
  readonly #watchers = new Set<(change: NodeChange) => void>();
  /** What the watchers were last told, by node id (a record without its renewal time). */
  #seen = new Map<string, string>();
  #poll: NodeJS.Timeout | undefined;
  #polling = false;
  #again = false;

  private constructor(client: RedisClient, options: RedisNodeRegistryOptions) {
    super(client, options);
    this.#pollMs = options.pollMs ?? NODE_POLL_MS;
    this.#onError = options.onError ?? (() => {});
  }

  /** Connects to redis; rejects when it cannot be reached. */
  static async create(options: RedisNodeRegistryOptions): Promise<RedisNodeRegistry> {
    return new RedisNodeRegistry(await RedisResource.connect(options), options);
  }

  async announce(record: MediaNodeRecord, ttlMs: number): Promise<void> {
    this.assertOpen();
    const valid = MediaNodeRecord.parse(record);
    await this.client
      .multi()
      .sAdd(this.#key('ids'), valid.nodeId)
      .set(this.#key(`node:${valid.nodeId}`), JSON.stringify(valid), { PX: Math.max(1, Math.round(ttlMs)) })
      .exec();
  }

  async withdraw(nodeId: string): Promise<void> {
    this.assertOpen();
    await this.client.multi().del(this.#key(`node:${nodeId}`)).sRem(this.#key('ids'), nodeId).exec();
  }

  async endLease(nodeId: string, incarnation: string): Promise<boolean> {
    this.assertOpen();
    const ended = (await END_LEASE.run(this.client, [this.#key(`node:${nodeId}`), this.#key('ids')], [incarnation, nodeId])) === 1;
    // This process's watchers hear it now, not at the next poll (the others at theirs).
    if (ended && this.#watchers.size > 0) void this.#check();
    return ended;
  }

  async liveNodes(): Promise<MediaNodeRecord[]> {
    this.assertOpen();
    const ids = await this.client.sMembers(this.#key('ids'));
    if (ids.length === 0) return [];
    const values = await this.client.mGet(ids.map((id) => this.#key(`node:${id}`)));
    const out: MediaNodeRecord[] = [];
    const gone: string[] = [];
    values.forEach((json, i) => {
      if (json === null) return void gone.push(ids[i]!);
      const record = MediaNodeRecord.safeParse(parseJson(json));
      if (record.success) out.push(record.data);
    });
    if (gone.length > 0) await this.client.sRem(this.#key('ids'), gone);
    return out.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  async watchNodes(listener: (change: NodeChange) => void): Promise<NodeWatch> {
    this.assertOpen();
    if (this.#watchers.size === 0) {
      // The first watcher's baseline: what is live now is not news.
      this.#seen = new Map((await this.liveNodes()).map((n) => [n.nodeId, comparable(n)]));
      this.#poll = setInterval(() => void this.#check(), this.#pollMs);
      this.#poll.unref();
    }
    this.#watchers.add(listener);
    let closed = false;
    return {
      close: async () => {
        if (closed) return;
        closed = true;
        this.#watchers.delete(listener);
        if (this.#watchers.size === 0) clearInterval(this.#poll);
      },
    };
  }

  protected override async closing(): Promise<void> {
    clearInterval(this.#poll);
    this.#watchers.clear();
  }

  async #check(): Promise<void> {
    if (this.closed) return;
    // A check asked for during one in flight (a lease ended here) runs right after it.
    if (this.#polling) return void (this.#again = true);
    this.#polling = true;
    this.#again = false;
    try {
      const live = await this.liveNodes();
      const now = new Map(live.map((n) => [n.nodeId, comparable(n)]));
      const changes: NodeChange[] = [];
      for (const node of live) if (this.#seen.get(node.nodeId) !== now.get(node.nodeId)) changes.push({ kind: 'up', node });
      for (const nodeId of this.#seen.keys()) if (!now.has(nodeId)) changes.push({ kind: 'down', nodeId });
      this.#seen = now;
      for (const change of changes) for (const fn of [...this.#watchers]) fn(change);
    } catch (error) {
      if (!this.closed) this.#onError(error as Error);
    } finally {
      this.#polling = false;
      if (this.#again) void this.#check();
    }
  }

  #key(part: string): string {
    return `${this.prefix}:{nodes}:${part}`;
  }
}

/** A record as watchers compare it: its renewal time alone is no change. */
function comparable(record: MediaNodeRecord): string {
  return JSON.stringify({ ...record, renewedAt: 0 });
}
