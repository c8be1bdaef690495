// Conference runners on a real redis-server: restart recovery, two runners (two server processes)
// on one redis, tokens that survive a restart. Each runner has its own RedisStore, i.e. its own
// connections, as a separate process would.
import { expect } from 'chai';
import { createClient } from 'redis';
import { ConferenceRunner } from '../../../server/app/conference/ConferenceRunner.ts';
import { AccessTokens } from '../../../server/app/conference/tokens.ts';
import { FakeClock } from '../../../server/core/conference/index.ts';
import { RedisStore } from '../../../server/store/index.ts';
import {
  advance,
  ask,
  chair,
  COMMUNE,
  COMMUNE_2,
  DISTRICT,
  DISTRICT_2,
  exec,
  freshConferenceId,
  MIN,
  planWith,
  PROVINCE,
  Recorder,
  run,
  startMeeting,
  startRunner,
  T0,
} from '../../unit/store/helpers.ts';
import { startRedisServer, type RedisServer } from '../store/redis-server.ts';

describe('ConferenceRunner on redis (real redis-server)', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  let clock: FakeClock;
  let id: string;
  const stores: RedisStore[] = [];
  const runners: ConferenceRunner[] = [];

  /** A "process": its own store (connections) and a runner on it. */
  async function process_(plan = planWith()): Promise<{ store: RedisStore; runner: ConferenceRunner }> {
    const store = await RedisStore.create({ url: redis.url });
    stores.push(store);
    const runner = await startRunner(store, clock, id, plan);
    runners.push(runner);
    return { store, runner };
  }

  const openStore = (): RedisStore => [...stores].reverse().find((s) => !s.closed)!;

  /** Waits until every runner is idle and has the version redis has. */
  async function converge(rs: ConferenceRunner[]): Promise<void> {
    const until = Date.now() + 3000;
    for (;;) {
      await Promise.all(rs.map((r) => r.idle()));
      const version = await openStore().version(id);
      if (rs.every((r) => r.closed || r.version === version)) return;
      if (Date.now() > until) throw new Error(`runners did not converge [redis:${version}, runners:${rs.map((r) => r.version)}]`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  before(async () => {
    redis = await startRedisServer();
  });

  after(async () => {
    await redis?.stop();
  });

  beforeEach(() => {
    clock = new FakeClock(T0);
    id = freshConferenceId('runner');
  });

  afterEach(async () => {
    for (const r of runners.splice(0)) await r.close();
    if (stores.some((s) => !s.closed)) await openStore().drop(id);
    for (const s of stores.splice(0)) await s.close();
  });

  it('state and log survive a restart: same queue, holder and deadline; the timer is re-armed', async () => {
    const first = await process_();
    const a = first.runner;
    await startMeeting(a);
    await ask(a, COMMUNE_2);
    await run(a, chair, { type: 'grant_floor', requestId: await ask(a, DISTRICT) });
    await ask(a, COMMUNE);
    await run(a, chair, { type: 'move_request', requestId: a.state.queue[1]!.id, toIndex: 0 });
    const t0 = clock.now();
    await advance(clock, [a], 8 * MIN + 500, converge);
    const before = { queue: a.state.queue, floor: a.state.floor, version: a.version, seq: a.seq, wakeAt: a.wakeAt };
    const logBefore = await a.readLog(0);
    // The process dies: its runner and connections go away.
    await a.close();
    await first.store.close();

    const b = (await process_()).runner;
    const rec = new Recorder(b);
    expect(b.state.queue.map((r) => r.bridgeId)).to.deep.equal([COMMUNE, COMMUNE_2]);
    expect(b.state.queue).to.deep.equal(before.queue);
    expect(b.state.floor).to.deep.equal(before.floor);
    expect(b.state.floor?.timer.deadline).to.equal(t0 + 10 * MIN);
    expect({ version: b.version, seq: b.seq, wakeAt: b.wakeAt }).to.deep.equal({ version: before.version, seq: before.seq, wakeAt: t0 + 9 * MIN });
    expect(await b.readLog(0)).to.deep.equal(logBefore);
    await advance(clock, [b], 2 * MIN, converge);
    expect(rec.seen('timer_warning').map((e) => e.remainingSec)).to.deep.equal([60, 30]);
    expect(rec.seen('timer_expired')).to.have.length(1);
    expect((await b.readLog(0)).map((e) => e.seq)).to.deep.equal(Array.from({ length: b.seq }, (_, i) => i + 1));
  });

  it('a deadline that passed while the process was down fires on start (close_mic revokes)', async () => {
    const plan = planWith({ expiryPolicy: 'close_mic', graceSeconds: 20 });
    const first = await process_(plan);
    await startMeeting(first.runner);
    await run(first.runner, chair, { type: 'grant_floor', requestId: await ask(first.runner, COMMUNE) });
    await first.runner.close();
    await first.store.close();
    clock.increment(11 * MIN);

    const b = (await process_(plan)).runner;
    const rec = new Recorder(b);
    await advance(clock, [b], 0, converge);
    expect(rec.events.map((e) => e.event.type)).to.deep.equal(['timer_expired', 'floor_ended', 'mic_closed', 'programme_changed']);
    expect(rec.mic).to.deep.equal([{ bridgeId: COMMUNE, open: false, origin: 'local' }]);
    expect(rec.programme).to.deep.equal([{ bridgeId: PROVINCE, reason: 'timeout', origin: 'local' }]);
    expect(b.state.floor).to.equal(null);
  });

  it('two runners: a command on A produces the event on B', async () => {
    const a = (await process_()).runner;
    const b = (await process_()).runner;
    const recA = new Recorder(a);
    const recB = new Recorder(b);
    await startMeeting(a);
    await run(a, chair, { type: 'grant_floor', requestId: await ask(a, DISTRICT) });
    await converge([a, b]);
    expect(b.state).to.deep.equal(a.state);
    expect(recB.events.map((e) => e.event)).to.deep.equal(recA.events.map((e) => e.event));
    expect(recB.seqs).to.deep.equal(recA.seqs);
    expect(recB.events.every((e) => e.meta.origin === 'remote')).to.equal(true);
    expect(recB.programme).to.deep.equal([{ bridgeId: DISTRICT, reason: 'granted', origin: 'remote' }]);
    expect(recB.mic).to.deep.equal([{ bridgeId: DISTRICT, open: true, origin: 'remote' }]);
    // And back: B's revoke reaches A.
    await run(b, chair, { type: 'revoke_floor' });
    await converge([a, b]);
    expect(a.state.floor).to.equal(null);
    expect(recA.mic.at(-1)).to.deep.equal({ bridgeId: DISTRICT, open: false, origin: 'remote' });
  });

  it('two runners: concurrent grants leave exactly one holder and a consistent log; a request is never granted twice', async () => {
    const a = (await process_()).runner;
    const b = (await process_()).runner;
    const recA = new Recorder(a);
    const recB = new Recorder(b);
    await startMeeting(a);
    const r1 = await ask(a, DISTRICT);
    const r2 = await ask(b, COMMUNE);
    await converge([a, b]);

    const [ga, gb] = await Promise.all([exec(a, chair, { type: 'grant_floor', requestId: r1 }), exec(b, chair, { type: 'grant_floor', requestId: r2 })]);
    expect([ga.ok, gb.ok]).to.deep.equal([true, true]);
    await converge([a, b]);
    expect(a.state).to.deep.equal(b.state);
    const log = await a.readLog(0);
    expect(log.map((e) => e.seq)).to.deep.equal(Array.from({ length: log.length }, (_, i) => i + 1));
    const floorLog = log.filter((e) => e.type === 'floor_granted' || e.type === 'floor_ended').map((e) => `${e.type}:${(e.data as { requestId: string }).requestId}`);
    const first = floorLog[0]!.split(':')[1]!;
    const second = first === r1 ? r2 : r1;
    expect(floorLog).to.deep.equal([`floor_granted:${first}`, `floor_ended:${first}`, `floor_granted:${second}`]);
    expect(a.state.floor?.requestId).to.equal(second);
    // Both runners emitted the whole log once, in order.
    expect(recA.seqs).to.deep.equal(log.map((e) => e.seq));
    expect(recB.seqs).to.deep.equal(log.map((e) => e.seq));

    const r3 = await ask(a, DISTRICT_2);
    await converge([a, b]);
    const both = await Promise.all([exec(a, chair, { type: 'grant_floor', requestId: r3 }), exec(b, chair, { type: 'grant_floor', requestId: r3 })]);
    expect(both.map((x) => (x.ok ? 'ok' : x.error.code)).sort()).to.deep.equal(['not_in_queue', 'ok']);
    await converge([a, b]);
    const grants = (await a.readLog(0)).filter((e) => e.type === 'floor_granted' && (e.data as { requestId: string }).requestId === r3);
    expect(grants).to.have.length(1);
    expect(b.state.floor?.requestId).to.equal(r3);
  });

  it('two runners: both arm the timer, each warning is given once (the second tick is a no-op)', async () => {
    const pa = await process_();
    const pb = await process_();
    const a = pa.runner;
    const b = pb.runner;
    // Count the writes that lose the race: each duplicate tick must have been decided and dropped.
    let conflicts = 0;
    for (const store of [pa.store, pb.store]) {
      const cas = store.compareAndSet.bind(store);
      store.compareAndSet = async (...args) => {
        const version = await cas(...args);
        if (version === null) conflicts++;
        return version;
      };
    }
    const recA = new Recorder(a);
    const recB = new Recorder(b);
    await startMeeting(a);
    await run(a, chair, { type: 'grant_floor', requestId: await ask(a, DISTRICT) });
    await converge([a, b]);
    expect(b.wakeAt).to.equal(a.wakeAt);
    await advance(clock, [a, b], 10 * MIN + 1000, converge);
    const log = await a.readLog(0);
    expect(log.filter((e) => e.type === 'timer_warning').map((e) => e.data.remainingSec)).to.deep.equal([120, 60, 30]);
    expect(log.filter((e) => e.type === 'timer_expired')).to.have.length(1);
    for (const rec of [recA, recB]) {
      expect(rec.seen('timer_warning').map((e) => e.remainingSec)).to.deep.equal([120, 60, 30]);
      expect(rec.seqs).to.deep.equal(log.map((e) => e.seq));
    }
    expect(conflicts).to.be.at.least(4);
  });

  it('a runner whose subscription dropped reloads when it is back (announcements missed meanwhile)', async () => {
    const a = (await process_()).runner;
    const b = (await process_()).runner;
    const recB = new Recorder(b);
    await startMeeting(a);
    await converge([a, b]);
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      // Cut every subscriber connection, then write once while B cannot hear it: no later write will tell B.
      await raw.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      await run(a, chair, { type: 'set_date', date: '2021-11-26' });
      await converge([a, b]);
      expect(b.state.date).to.equal('2021-11-26');
      expect(recB.seen('date_changed')).to.deep.equal([{ type: 'date_changed', date: '2021-11-26' }]);
      expect(recB.seqs).to.deep.equal(Array.from({ length: a.seq }, (_, i) => i + 1));
    } finally {
      await raw.close();
    }
  });

  it('tokens survive a restart; a revoke on one process holds on the other', async () => {
    const bridges = planWith().bridges;
    const first = await process_();
    const tokensA = await AccessTokens.create({ conferenceId: id, bridges, store: first.store });
    const list = await tokensA.inviteList('https://giaoban.example.vn');
    expect(list).to.have.length(216);
    const chairToken = (await tokensA.tokenFor('chair'))!;
    const communeToken = (await tokensA.tokenFor(COMMUNE))!;
    await first.runner.close();
    await first.store.close();

    const second = await process_();
    const third = await process_();
    const tokensB = await AccessTokens.create({ conferenceId: id, bridges, store: second.store });
    const tokensC = await AccessTokens.create({ conferenceId: id, bridges, store: third.store });
    expect(await tokensB.inviteList('https://giaoban.example.vn')).to.deep.equal(list);
    expect(await tokensB.resolve(chairToken)).to.deep.equal({ role: 'chair' });
    expect(await tokensC.resolve(communeToken)).to.deep.equal({ role: 'operator', bridgeId: COMMUNE });

    expect(await tokensB.revoke(communeToken)).to.equal(true);
    expect(await tokensC.resolve(communeToken)).to.equal(null);
    const fresh = await tokensC.reissue(COMMUNE);
    expect(await tokensB.resolve(fresh)).to.deep.equal({ role: 'operator', bridgeId: COMMUNE });
    const newChair = await tokensB.reissue('chair');
    expect(await tokensC.resolve(chairToken)).to.equal(null);
    expect(await tokensC.resolve(newChair)).to.deep.equal({ role: 'chair' });
  });
});
