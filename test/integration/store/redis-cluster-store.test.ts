// The redis registries of media nodes and tracks (issue 13) against a real redis-server: the same
// contracts as the memory ones, the link samples' channel, and the plan loaded by REST.
import { expect } from 'chai';
import { RedisLinkChannel, RedisNodeRegistry, RedisPlanStore, RedisTrackRegistry } from '../../../server/store/index.ts';
import type { LinkSampleMessage } from '../../../server/protocol/cluster.ts';
import { freshConferenceId } from '../../unit/store/helpers.ts';
import { nodeRegistryContract } from '../../unit/store/node-registry-contract.ts';
import { trackRegistryContract } from '../../unit/store/track-registry-contract.ts';
import { planStoreContract } from '../../unit/store/plan-store-contract.ts';
import { waitUntil } from '../../unit/store/store-contract.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';

describe('Redis cluster stores (real redis-server)', function () {
  this.timeout(20_000);
  let redis: RedisServer;

  before(async () => {
    redis = await startRedisServer();
  });

  after(async () => {
    await redis?.stop();
  });

  describe('RedisNodeRegistry', () => nodeRegistryContract(() => RedisNodeRegistry.create({ url: redis.url, pollMs: 100 })));
  describe('RedisTrackRegistry', () => trackRegistryContract(() => RedisTrackRegistry.create({ url: redis.url })));
  // Two processes on one redis: the second store is another connection.
  describe('RedisPlanStore', () => planStoreContract(() => RedisPlanStore.create({ url: redis.url }), { shared: true }));

  it('link samples: a valid message reaches every watcher of the conference; a malformed one is dropped', async () => {
    const a = await RedisLinkChannel.create({ url: redis.url });
    const b = await RedisLinkChannel.create({ url: redis.url });
    const id = freshConferenceId('links');
    try {
      const heard: LinkSampleMessage[] = [];
      const watch = await b.watchLinks(id, (m) => heard.push(m));
      const side = { packets: 10, lost: 1, nacks: 0, keyframeRequests: 0, bitrate: 1000, jitterMax: 2 };
      const message: LinkSampleMessage = { nodeId: 'n1', at: 5, links: { 'c-05971': { at: 5, iceState: 'connected', up: side, down: { ...side, scoreMin: 9 } } } };
      await a.publishLinks(id, { nodeId: 'bad id!', at: 1, links: {} } as LinkSampleMessage);
      await a.publishLinks(id, message);
      await waitUntil(() => heard.length >= 1, 3000);
      await new Promise((r) => setTimeout(r, 50));
      expect(heard).to.deep.equal([message]);
      await watch.close();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
