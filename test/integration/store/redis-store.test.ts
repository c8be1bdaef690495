// RedisStore against a real redis-server started by the test.
import { expect } from 'chai';
import { createClient } from 'redis';
import { RedisPlacementStore, RedisStore, StoreError, storesOf } from '../../../server/store/index.ts';
import { freshConferenceId, chair } from '../../unit/store/helpers.ts';
import { apply, freshState, waitUntil } from '../../unit/store/store-contract.ts';
import { conferenceStoreContract } from '../../unit/store/conference-store-contract.ts';
import { placementStoreContract } from '../../unit/store/placement-store-contract.ts';
import { presenceStoreContract } from '../../unit/store/presence-store-contract.ts';
import { tokenStoreContract } from '../../unit/store/token-store-contract.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';

describe('RedisStore (real redis-server)', function () {
  this.timeout(20_000);
  let redis: RedisServer;

  before(async () => {
    redis = await startRedisServer();
  });

  after(async () => {
    await redis?.stop();
  });

  describe('contract', () => {
    describe('as ConferenceStore', () => conferenceStoreContract(() => RedisStore.create({ url: redis.url })));
    describe('as TokenStore', () => tokenStoreContract(() => RedisStore.create({ url: redis.url })));
    describe('as PresenceStore', () => presenceStoreContract(() => RedisStore.create({ url: redis.url }), true));
    describe('RedisPlacementStore', () => placementStoreContract(() => RedisPlacementStore.create({ url: redis.url })));
  });

  it('keeps a conference under diemcau:{id}: keys: state hash, log list, token hashes, placements; drop removes them all', async () => {
    const store = await RedisStore.create({ url: redis.url });
    const placements = await RedisPlacementStore.create({ url: redis.url });
    const raw = createClient({ url: redis.url });
    await raw.connect();
    const id = freshConferenceId('keys');
    try {
      const s0 = freshState();
      await store.compareAndSet(id, 0, { state: s0, log: [] });
      await store.compareAndSet(id, 1, apply(s0, [{ type: 'set_date', date: '2021-11-26', actor: chair }]));
      await store.issueTokens(id, [{ token: 't'.repeat(22), grant: 'chair', role: 'chair', issuedAt: 1 }], 'replace');
      await placements.place(id, { peerKey: 'd-178', nodeId: 'node-1', at: 1, reason: 'placed' }, 0);
      await placements.setDraining(id, 'node-1', true);
      const keys = (await raw.keys(`diemcau:{${id}}:*`)).sort();
      expect(keys).to.deep.equal(['draining', 'grants', 'log', 'placements', 'state', 'tokens'].map((p) => `diemcau:{${id}}:${p}`));
      expect(await raw.type(`diemcau:{${id}}:log`)).to.equal('list');
      expect(await raw.hGet(`diemcau:{${id}}:state`, 'version')).to.equal('2');
      // The state field holds neither the configuration nor the log.
      const state = JSON.parse((await raw.hGet(`diemcau:{${id}}:state`, 'state'))!);
      expect(state).to.not.have.property('config');
      expect(state).to.not.have.property('log');
      expect(JSON.parse((await raw.hGet(`diemcau:{${id}}:state`, 'config'))!).bridges).to.have.length(212);
      await storesOf('redis', { conferences: store, tokens: store, presence: store, placements }, [store, placements]).drop(id);
      expect(await raw.keys(`diemcau:{${id}}:*`)).to.deep.equal([]);
    } finally {
      await raw.close();
      await store.close();
      await placements.close();
    }
  });

  it('the subscriber connection is cut (CLIENT KILL TYPE pubsub): listeners are told to resync, and announcements arrive again', async () => {
    const store = await RedisStore.create({ url: redis.url });
    const placements = await RedisPlacementStore.create({ url: redis.url });
    const raw = createClient({ url: redis.url });
    await raw.connect();
    const id = freshConferenceId('resync');
    try {
      const changes: string[] = [];
      const heard: string[] = [];
      await store.subscribe(id, (c) => changes.push(c.kind));
      await placements.watchPlacements(id, (r) => heard.push(r.peerKey));
      await raw.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      await waitUntil(() => changes.includes('resync'), 5000);
      await store.compareAndSet(id, 0, { state: freshState(), log: [] });
      await placements.place(id, { peerKey: 'd-178', nodeId: 'node-1', at: 1, reason: 'placed' }, 0);
      await waitUntil(() => changes.at(-1) === 'write' && heard.includes('d-178'), 5000);
    } finally {
      await raw.close();
      await store.close();
      await placements.close();
    }
  });

  it('two stores (two processes) on one redis: concurrent updates lose nothing, each sees the other', async () => {
    const stores: RedisStore[] = [await RedisStore.create({ url: redis.url }), await RedisStore.create({ url: redis.url })];
    const id = freshConferenceId('two');
    try {
      await stores[0]!.compareAndSet(id, 0, { state: freshState(), log: [] });
      const heard: number[] = [];
      const sub = await stores[1]!.subscribe(id, (c) => c.kind === 'write' && heard.push(c.version));
      const outcomes = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          stores[i % 2]!.update(id, (current) => ({
            write: apply(current!.state, [{ type: 'set_date', date: `2021-11-${String(10 + i).padStart(2, '0')}`, actor: chair }]),
            result: i,
          })),
        ),
      );
      expect(outcomes.every((o) => o.written)).to.equal(true);
      expect(outcomes.some((o) => o.attempts > 1)).to.equal(true);
      expect(await stores[1]!.version(id)).to.equal(17);
      const log = await stores[0]!.readLog(id);
      expect(log.map((e) => e.seq)).to.deep.equal(Array.from({ length: 16 }, (_, i) => i + 1));
      for (let i = 0; i < 100 && heard.length < 16; i++) await new Promise((r) => setTimeout(r, 10));
      expect(heard.sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 16 }, (_, i) => i + 2));
      await sub.close();
      await stores[0]!.drop(id);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('rejects with code unavailable when redis cannot be reached', async () => {
    let error: unknown;
    await RedisStore.create({ url: 'redis://127.0.0.1:1' }).catch((e) => (error = e));
    expect(error).to.be.instanceOf(StoreError);
    expect((error as StoreError).code).to.equal('unavailable');
  });
});
