// The plan loaded for a conference, in redis, shared by every control instance and media node
// (issue 13). Storing is one Lua script that bumps the version, writes the text and announces the
// version, so two plans stored at once get two versions and every watcher hears of both.
//
// Keys of a conference (the braces are the cluster hash tag, as in RedisStore):
//   diemcau:{<id>}:plan          hash    version, text (the plan's JSON), at (epoch ms)
//   diemcau:{<id>}:plan-changes  pub/sub the version of every plan stored
import { checkConferenceId } from '../errors.ts';
import { watchSafely, type StoreSubscription } from '../ConferenceStore.ts';
import type { PlanAnnouncementListener, PlanStore, StoredPlan } from '../PlanStore.ts';
import type { StoreResource } from '../Stores.ts';
import { RedisResource, Script, type RedisClient, type RedisResourceOptions } from './connection.ts';

// KEYS: the plan hash, the announcement channel. ARGV: the text, when.
const STORE = new Script(`
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'text', ARGV[1], 'at', ARGV[2])
redis.call('PUBLISH', KEYS[2], tostring(version))
return version
`);

/** Options of a RedisPlanStore. */
export type RedisPlanStoreOptions = RedisResourceOptions;

/** Stored plans in redis, every one announced on a channel. */
export class RedisPlanStore extends RedisResource implements PlanStore, StoreResource {
  private constructor(client: RedisClient, options: RedisPlanStoreOptions) {
    super(client, options);
  }

  /** Connects to redis; rejects with StoreError 'unavailable' when it cannot be reached. */
  static async create(options: RedisPlanStoreOptions): Promise<RedisPlanStore> {
    return new RedisPlanStore(await RedisResource.connect(options), options);
  }

  /** Key of one part of a conference. */
  key(conferenceId: string, part: 'plan' | 'plan-changes'): string {
    checkConferenceId(conferenceId);
    return `${this.prefix}:{${conferenceId}}:${part}`;
  }

  async storedPlan(conferenceId: string): Promise<StoredPlan | null> {
    this.assertOpen();
    const [version, text, at] = await this.client.hmGet(this.key(conferenceId, 'plan'), ['version', 'text', 'at']);
    if (!version || text === null || text === undefined) return null;
    return { version: Number(version), text, storedAt: Number(at ?? 0) };
  }

  async storePlan(conferenceId: string, text: string, storedAt: number): Promise<number> {
    this.assertOpen();
    return Number(await STORE.run(this.client, [this.key(conferenceId, 'plan'), this.key(conferenceId, 'plan-changes')], [text, String(storedAt)]));
  }

  async watchPlans(conferenceId: string, listener: PlanAnnouncementListener): Promise<StoreSubscription> {
    this.assertOpen();
    const tell = watchSafely(listener);
    return this.channels.listen(this.key(conferenceId, 'plan-changes'), {
      message: (message) => {
        const version = Number(message);
        if (Number.isInteger(version) && version > 0) tell({ kind: 'stored', version });
      },
      // Announcements published while the subscriber was down are lost: read the store again.
      resync: () => tell({ kind: 'resync' }),
    });
  }

  async dropPlan(conferenceId: string): Promise<void> {
    this.assertOpen();
    await this.client.del(this.key(conferenceId, 'plan'));
  }
}
