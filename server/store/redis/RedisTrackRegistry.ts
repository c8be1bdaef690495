// The tracks each media node publishes, in redis (issue 13), per conference:
//   diemcau:{<id>}:tracks           hash     "<bridgeId>:<source>" -> TrackRecord JSON
//   diemcau:{<id>}:tracks:changed   pub/sub  a message after every change (the readers reload)
// Writes are Lua scripts: a publication replaces an older epoch only, an unpublication removes its
// own producer only, so two nodes racing for one bridge (a hall moving) leave the newest.
import { TrackRecord } from '../../protocol/cluster.ts';
import { checkConferenceId } from '../errors.ts';
import type { StoreResource } from '../Stores.ts';
import type { TrackRegistry, TrackWatch } from '../TrackRegistry.ts';
import { parseJson, RedisResource, Script, type RedisResourceOptions } from './connection.ts';

const PUBLISH = new Script(`
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then
  local ok, t = pcall(cjson.decode, held)
  if ok and tonumber(t.epoch) and tonumber(t.epoch) > tonumber(ARGV[3]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], 'publish')
return 1
`);

const UNPUBLISH = new Script(`
local held = redis.call('HGET', KEYS[1], ARGV[1])
if not held then return 0 end
local ok, t = pcall(cjson.decode, held)
if ok and t.producerId ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], 'unpublish')
return 1
`);

const DROP_NODE = new Script(`
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  local ok, t = pcall(cjson.decode, all[i + 1])
  if ok and t.nodeId == ARGV[1] then
    redis.call('HDEL', KEYS[1], all[i])
    n = n + 1
  end
end
if n > 0 then redis.call('PUBLISH', KEYS[2], 'drop') end
return n
`);

/** Published tracks in redis. */
export class RedisTrackRegistry extends RedisResource implements TrackRegistry, StoreResource {
  /** Connects to redis; rejects when it cannot be reached. */
  static async create(options: RedisResourceOptions): Promise<RedisTrackRegistry> {
    return new RedisTrackRegistry(await RedisResource.connect(options), options);
  }

  async publishTrack(conferenceId: string, record: TrackRecord): Promise<void> {
    const valid = TrackRecord.parse(record);
    await PUBLISH.run(this.client, this.#keys(conferenceId), [`${valid.bridgeId}:${valid.source}`, JSON.stringify(valid), String(valid.epoch)]);
  }

  async unpublishTrack(conferenceId: string, bridgeId: string, source: TrackRecord['source'], producerId: string): Promise<void> {
    await UNPUBLISH.run(this.client, this.#keys(conferenceId), [`${bridgeId}:${source}`, producerId]);
  }

  async tracks(conferenceId: string): Promise<TrackRecord[]> {
    const [key] = this.#keys(conferenceId);
    const out: TrackRecord[] = [];
    for (const json of await this.client.hVals(key!)) {
      const record = TrackRecord.safeParse(parseJson(json));
      if (record.success) out.push(record.data);
    }
    return out;
  }

  async dropNodeTracks(conferenceId: string, nodeId: string): Promise<void> {
    await DROP_NODE.run(this.client, this.#keys(conferenceId), [nodeId]);
  }

  async watchTracks(conferenceId: string, listener: () => void): Promise<TrackWatch> {
    const [, channel] = this.#keys(conferenceId);
    return this.channels.listen(channel!, { message: () => listener(), resync: () => listener() });
  }

  async dropTracks(conferenceId: string): Promise<void> {
    const [key, channel] = this.#keys(conferenceId);
    await this.client.multi().del(key!).publish(channel!, 'drop').exec();
  }

  /** The hash and the channel of a conference's tracks (after checking the store is open and the id). */
  #keys(conferenceId: string): [string, string] {
    this.assertOpen();
    checkConferenceId(conferenceId);
    const base = `${this.prefix}:{${conferenceId}}:tracks`;
    return [base, `${base}:changed`];
  }
}
