// Placements of a conference's peers on media nodes, in redis, shared by every control instance
// (issue 13). A move is one Lua script that checks the stored epoch, writes the record and
// announces it, so two instances reacting to the same dead node never place a peer twice.
//
// Keys of a conference (the braces are the cluster hash tag, as in RedisStore):
//   diemcau:{<id>}:placements   hash    peerKey -> PlacementRecord JSON
//   diemcau:{<id>}:placement    pub/sub the PlacementRecord JSON of every write
//   diemcau:{<id>}:draining     set     node ids a technician marked draining
import { PlacementRecord } from '../../protocol/cluster.ts';
import { checkConferenceId, checkNodeId, checkPlacements, StoreError } from '../errors.ts';
import type { PlacementStore, PlacementWatch } from '../PlacementStore.ts';
import type { StoreResource } from '../Stores.ts';
import { parseJson, RedisResource, Script, type RedisClient, type RedisResourceOptions } from './connection.ts';

// ARGV: (peerKey, expectedEpoch, record JSON) per peer. Every epoch is checked before anything is written.
const PLACE = new Script(`
for i = 1, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local epoch = 0
  if current then epoch = tonumber(cjson.decode(current).epoch) or 0 end
  if epoch ~= tonumber(ARGV[i + 1]) then return 0 end
end
for i = 1, #ARGV, 3 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  redis.call('PUBLISH', KEYS[2], ARGV[i + 2])
end
return 1
`);

/** Options of a RedisPlacementStore. */
export type RedisPlacementStoreOptions = RedisResourceOptions;

/** Placements in redis: compare-and-set on the epoch, every write announced on a channel. */
export class RedisPlacementStore extends RedisResource implements PlacementStore, StoreResource {
  readonly #onError: (error: Error) => void;

  private constructor(client: RedisClient, options: RedisPlacementStoreOptions) {
    super(client, options);
    this.#onError = options.onError ?? (() => {});
  }

  /** Connects to redis; rejects with StoreError 'unavailable' when it cannot be reached. */
  static async create(options: RedisPlacementStoreOptions): Promise<RedisPlacementStore> {
    return new RedisPlacementStore(await RedisResource.connect(options), options);
  }

  /** Key of one part of a conference. */
  key(conferenceId: string, part: 'placements' | 'placement' | 'draining'): string {
    checkConferenceId(conferenceId);
    return `${this.prefix}:{${conferenceId}}:${part}`;
  }

  async placements(conferenceId: string): Promise<Map<string, PlacementRecord>> {
    this.assertOpen();
    const all = await this.client.hGetAll(this.key(conferenceId, 'placements'));
    const out = new Map<string, PlacementRecord>();
    for (const [peerKey, json] of Object.entries(all)) {
      const record = this.#decode(json);
      if (record && record.peerKey === peerKey) out.set(peerKey, record);
    }
    return out;
  }

  async place(conferenceId: string, record: Omit<PlacementRecord, 'epoch'>, expectedEpoch: number): Promise<PlacementRecord | null> {
    return (await this.placeAll(conferenceId, [{ record, expectedEpoch }]))?.[0] ?? null;
  }

  async placeAll(conferenceId: string, moves: readonly { record: Omit<PlacementRecord, 'epoch'>; expectedEpoch: number }[]): Promise<PlacementRecord[] | null> {
    this.assertOpen();
    checkPlacements(moves);
    const stored = moves.map((m): PlacementRecord => ({ ...m.record, epoch: m.expectedEpoch + 1 }));
    const args = moves.flatMap((m, i) => [m.record.peerKey, String(m.expectedEpoch), JSON.stringify(stored[i])]);
    const reply = await PLACE.run(this.client, [this.key(conferenceId, 'placements'), this.key(conferenceId, 'placement')], args);
    return Number(reply) === 1 ? stored : null;
  }

  async watchPlacements(conferenceId: string, listener: (record: PlacementRecord) => void): Promise<PlacementWatch> {
    this.assertOpen();
    // Writes announced while the subscriber was down are lost; readers refresh the whole map now and then.
    return this.channels.listen(this.key(conferenceId, 'placement'), {
      message: (json) => {
        const record = this.#decode(json);
        if (record) listener(record);
      },
      resync: () => {},
    });
  }

  async setDraining(conferenceId: string, nodeId: string, draining: boolean): Promise<void> {
    this.assertOpen();
    checkNodeId(nodeId);
    const key = this.key(conferenceId, 'draining');
    if (draining) await this.client.sAdd(key, nodeId);
    else await this.client.sRem(key, nodeId);
  }

  async drainingNodes(conferenceId: string): Promise<Set<string>> {
    this.assertOpen();
    return new Set(await this.client.sMembers(this.key(conferenceId, 'draining')));
  }

  async dropPlacements(conferenceId: string): Promise<void> {
    this.assertOpen();
    await this.client.del([this.key(conferenceId, 'placements'), this.key(conferenceId, 'draining')]);
  }

  /** A stored or announced record, or null (reported) when it does not parse. */
  #decode(json: string): PlacementRecord | null {
    const parsed = PlacementRecord.safeParse(parseJson(json));
    if (parsed.success) return parsed.data;
    this.#onError(new StoreError('corrupt', `placement record does not parse [json:${json.slice(0, 80)}]`));
    return null;
  }
}
