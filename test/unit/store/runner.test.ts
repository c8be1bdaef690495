// ConferenceRunner on the memory store with a FakeClock: a 10-minute speech runs in milliseconds.
import { expect } from 'chai';
import { ConferenceRunner } from '../../../server/app/conference/ConferenceRunner.ts';
import { FakeClock, type ConferenceEvent } from '../../../server/core/conference/index.ts';
import { MemoryConferenceStore } from '../../../server/store/index.ts';
import {
  advance,
  ask,
  chair,
  COMMUNE,
  COMMUNE_2,
  DISTRICT,
  DISTRICT_2,
  exec,
  MIN,
  op,
  planWith,
  PROVINCE,
  Recorder,
  run,
  settle,
  startMeeting,
  startRunner,
  system,
  T0,
} from './helpers.ts';

describe('ConferenceRunner (memory store, fake clock)', () => {
  let store: MemoryConferenceStore;
  let clock: FakeClock;
  const runners: ConferenceRunner[] = [];
  const open = async (plan = planWith()): Promise<ConferenceRunner> => {
    const r = await startRunner(store, clock, 'lang-son-2021', plan);
    runners.push(r);
    return r;
  };

  beforeEach(() => {
    store = new MemoryConferenceStore();
    clock = new FakeClock(T0);
  });

  afterEach(async () => {
    for (const r of runners.splice(0)) await r.close();
    await store.close();
  });

  it('creates the conference from the plan once; a second runner loads it', async () => {
    const a = await open();
    expect(a.version).to.equal(1);
    expect(a.state.status).to.equal('waiting');
    expect(a.state.config.bridges).to.have.length(212);
    expect(a.state.config.chairBridgeId).to.equal(PROVINCE);
    await run(a, system, { type: 'bridge_connected', bridgeId: DISTRICT });
    await a.close();
    // The stored conference keeps its configuration even if another plan is passed.
    const b = await open(planWith({ defaultLimitMinutes: 3 }));
    expect(b.version).to.equal(2);
    expect(b.seq).to.equal(1);
    expect(b.state.presence[DISTRICT]!.online).to.equal(true);
    expect(b.state.config.speaking.defaultLimitMinutes).to.equal(10);
    expect(b.wakeAt).to.equal(null);
  });

  it('a 10-minute speech: the alarm issues the ticks, warnings at 120, 60, 30 s and the expiry at zero', async () => {
    const r = await open();
    const rec = new Recorder(r);
    await startMeeting(r);
    await run(r, chair, { type: 'grant_floor', requestId: await ask(r, DISTRICT) });
    const t0 = clock.now();
    expect(r.wakeAt).to.equal(t0 + 8 * MIN);
    expect(clock.pending).to.equal(1);

    await advance(clock, [r], 8 * MIN - 1);
    expect(rec.seen('timer_warning')).to.have.length(0);
    await advance(clock, [r], 2 * MIN + 30_001); // past zero by 30 s
    const timerEvents = rec.events.filter((e) => e.event.type === 'timer_warning' || e.event.type === 'timer_expired');
    expect(timerEvents.map((e) => [e.event.type, e.meta.at - t0, e.meta.actor.role, e.meta.origin])).to.deep.equal([
      ['timer_warning', 8 * MIN, 'system', 'local'],
      ['timer_warning', 9 * MIN, 'system', 'local'],
      ['timer_warning', 9.5 * MIN, 'system', 'local'],
      ['timer_expired', 10 * MIN, 'system', 'local'],
    ]);
    // notify_chair: the hall keeps the floor and nothing more is armed.
    expect(r.state.floor?.bridgeId).to.equal(DISTRICT);
    expect(r.wakeAt).to.equal(null);
    expect(clock.pending).to.equal(0);
    // The log in the store has them too, with the seqs the runner emitted.
    const log = await r.readLog(0);
    expect(log.map((e) => e.seq)).to.deep.equal(rec.seqs);
    expect(rec.seqs).to.deep.equal(Array.from({ length: rec.seqs.length }, (_, i) => i + 1));
  });

  it('close_mic: the floor is revoked grace seconds after zero; mic and programme events for the media layer', async () => {
    const r = await open(planWith({ expiryPolicy: 'close_mic', graceSeconds: 15 }));
    const rec = new Recorder(r);
    await startMeeting(r);
    await run(r, chair, { type: 'grant_floor', requestId: await ask(r, COMMUNE) });
    expect(rec.programme).to.deep.equal([{ bridgeId: COMMUNE, reason: 'granted', origin: 'local' }]);
    expect(rec.mic).to.deep.equal([{ bridgeId: COMMUNE, open: true, origin: 'local' }]);
    await advance(clock, [r], 10 * MIN + 14_999);
    expect(r.state.floor?.bridgeId).to.equal(COMMUNE);
    await advance(clock, [r], 1);
    expect(r.state.floor).to.equal(null);
    expect(rec.seen('floor_ended').map((e) => [e.bridgeId, e.reason, e.overrunSec])).to.deep.equal([[COMMUNE, 'timeout', 15]]);
    expect(rec.mic.at(-1)).to.deep.equal({ bridgeId: COMMUNE, open: false, origin: 'local' });
    expect(rec.programme.at(-1)).to.deep.equal({ bridgeId: PROVINCE, reason: 'timeout', origin: 'local' });
    expect(r.wakeAt).to.equal(null);
    expect(clock.pending).to.equal(0);
  });

  it('refusals come back with the core code and write nothing', async () => {
    const r = await open();
    const rec = new Recorder(r);
    const before = r.version;
    const refused = await exec(r, chair, { type: 'grant_floor', requestId: 'r9' });
    expect(refused).to.deep.include({ ok: false });
    expect(refused.ok ? null : refused.error.code).to.equal('invalid_state');
    const forbidden = await exec(r, op(DISTRICT), { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'A', speakerTitle: 'B' });
    expect(forbidden.ok ? null : forbidden.error.code).to.equal('forbidden');
    const unknown = await r.execute({ type: 'nope', actor: chair } as never);
    expect(unknown.ok ? null : unknown.error.code).to.equal('unknown_command');
    // A tick with nothing due, and a second socket of a hall already online, change nothing.
    expect(await exec(r, system, { type: 'tick' })).to.deep.equal({ ok: true, events: [], seq: 0 });
    expect(r.version).to.equal(before);
    expect(rec.events).to.deep.equal([]);
  });

  it('emits every event once with its seq; next follows the head of the queue; snapshot is a copy', async () => {
    const r = await open();
    const rec = new Recorder(r);
    const states: number[] = [];
    r.on('state', (c) => states.push(c.version));
    await startMeeting(r);
    const r1 = await ask(r, COMMUNE);
    await ask(r, COMMUNE_2);
    expect(rec.next).to.deep.equal([COMMUNE]);
    await run(r, chair, { type: 'grant_next' });
    expect(rec.next).to.deep.equal([COMMUNE, COMMUNE_2]);
    await run(r, system, { type: 'bridge_disconnected', bridgeId: COMMUNE_2 });
    expect(rec.next).to.deep.equal([COMMUNE, COMMUNE_2, null]);
    expect(rec.seen('floor_granted').map((e) => e.requestId)).to.deep.equal([r1]);
    expect(rec.events.every((e) => e.meta.origin === 'local')).to.equal(true);
    expect(rec.seqs).to.deep.equal(Array.from({ length: r.seq }, (_, i) => i + 1));
    expect(states.at(-1)).to.equal(r.version);

    const snap = r.snapshot();
    expect(snap).to.include({ conferenceId: 'lang-son-2021', version: r.version, seq: r.seq, serverNow: clock.now() });
    expect(snap.state.floor?.bridgeId).to.equal(COMMUNE);
    expect(snap.state.log).to.deep.equal([]);
    snap.state.queue.length = 0;
    snap.state.floor = null;
    expect(r.state.floor?.bridgeId).to.equal(COMMUNE);
    expect(r.report().speakers).to.deep.equal([]);
  });

  it('after a restart: same queue, holder and deadline; the timer is re-armed and the speech goes on', async () => {
    const a = await open();
    await startMeeting(a);
    await ask(a, DISTRICT_2);
    await run(a, chair, { type: 'grant_floor', requestId: await ask(a, DISTRICT) });
    await ask(a, COMMUNE);
    const t0 = clock.now();
    await advance(clock, [a], 8 * MIN + 1000); // the 120 s warning is given
    const before = { queue: a.state.queue, floor: a.state.floor, version: a.version, seq: a.seq, wakeAt: a.wakeAt };
    expect(before.wakeAt).to.equal(t0 + 9 * MIN);
    await a.close();
    await a.close();
    expect(clock.pending).to.equal(0);

    const b = await open();
    const rec = new Recorder(b);
    expect(b.state.queue).to.deep.equal(before.queue);
    expect(b.state.floor).to.deep.equal(before.floor);
    expect(b.state.floor?.timer.deadline).to.equal(t0 + 10 * MIN);
    expect({ version: b.version, seq: b.seq, wakeAt: b.wakeAt }).to.deep.equal({ version: before.version, seq: before.seq, wakeAt: before.wakeAt });
    await advance(clock, [b], 2 * MIN);
    expect(rec.seen('timer_warning').map((e) => e.remainingSec)).to.deep.equal([60, 30]);
    expect(rec.seen('timer_expired')).to.have.length(1);
    expect(rec.events[0]!.meta.seq).to.equal(before.seq + 1);
  });

  it('a deadline that passed while no runner was up fires when the next one starts', async () => {
    const plan = planWith({ expiryPolicy: 'close_mic', graceSeconds: 30 });
    const a = await open(plan);
    await startMeeting(a);
    await run(a, chair, { type: 'grant_floor', requestId: await ask(a, COMMUNE) });
    await a.close();
    clock.increment(12 * MIN); // down for 12 minutes

    const b = await open(plan);
    const rec = new Recorder(b);
    expect(b.wakeAt).to.be.at.most(clock.now());
    await advance(clock, [b], 0);
    // A late tick announces only the expiry (no stale warnings), then the grace is over too.
    expect(rec.events.map((e) => e.event.type)).to.deep.equal(['timer_expired', 'floor_ended', 'mic_closed', 'programme_changed']);
    expect(rec.programme).to.deep.equal([{ bridgeId: PROVINCE, reason: 'timeout', origin: 'local' }]);
    expect(b.state.floor).to.equal(null);
  });

  describe('two runners on one store', () => {
    it('a command on A is emitted by B as remote, with the same seqs', async () => {
      const a = await open();
      const b = await open();
      const recA = new Recorder(a);
      const recB = new Recorder(b);
      await startMeeting(a);
      await run(a, chair, { type: 'grant_floor', requestId: await ask(a, DISTRICT) });
      await settle([a, b]);
      expect(b.version).to.equal(a.version);
      expect(b.state.floor?.bridgeId).to.equal(DISTRICT);
      expect(recB.seqs).to.deep.equal(recA.seqs);
      expect(recB.events.map((e) => e.event)).to.deep.equal(recA.events.map((e) => e.event));
      expect(new Set(recB.events.map((e) => e.meta.origin))).to.deep.equal(new Set(['remote']));
      expect(recB.programme).to.deep.equal([{ bridgeId: DISTRICT, reason: 'granted', origin: 'remote' }]);
      // B acts on what A did.
      await run(b, chair, { type: 'revoke_floor' });
      await settle([a, b]);
      expect(a.state.floor).to.equal(null);
      expect(recA.programme.at(-1)).to.deep.equal({ bridgeId: PROVINCE, reason: 'revoked', origin: 'remote' });
    });

    it('concurrent grants: one holder, a consistent log; the same request is never granted twice', async () => {
      const a = await open();
      const b = await open();
      const rec = new Recorder(a);
      await startMeeting(a);
      const r1 = await ask(a, DISTRICT);
      const r2 = await ask(a, COMMUNE);
      await settle([a, b]);
      const [ga, gb] = await Promise.all([exec(a, chair, { type: 'grant_floor', requestId: r1 }), exec(b, chair, { type: 'grant_floor', requestId: r2 })]);
      expect(ga.ok && gb.ok).to.equal(true);
      await settle([a, b]);
      expect(a.state).to.deep.equal(b.state);
      const log = await a.readLog(0);
      const floor = log.filter((e) => e.type === 'floor_granted' || e.type === 'floor_ended').map((e) => `${e.type}:${(e.data as { requestId: string }).requestId}`);
      // Whichever came second superseded the first.
      const first = floor[0]!.split(':')[1]!;
      const second = first === r1 ? r2 : r1;
      expect(floor).to.deep.equal([`floor_granted:${first}`, `floor_ended:${first}`, `floor_granted:${second}`]);
      expect(a.state.floor?.requestId).to.equal(second);
      expect(a.state.speeches.map((s) => [s.requestId, s.endReason])).to.deep.equal([[first, 'superseded']]);
      expect(rec.seqs).to.deep.equal(log.map((e) => e.seq));

      const r3 = await ask(b, DISTRICT_2);
      await settle([a, b]);
      const both = await Promise.all([exec(a, chair, { type: 'grant_floor', requestId: r3 }), exec(b, chair, { type: 'grant_floor', requestId: r3 })]);
      expect(both.map((x) => (x.ok ? 'ok' : x.error.code)).sort()).to.deep.equal(['not_in_queue', 'ok']);
      await settle([a, b]);
      expect((await a.readLog(0)).filter((e) => e.type === 'floor_granted' && (e.data as { requestId: string }).requestId === r3)).to.have.length(1);
    });

    it('both arm the timer; the tick of the second is a no-op', async () => {
      // Count the writes that lose the race: the second tick must have been decided and dropped.
      let conflicts = 0;
      const cas = store.compareAndSet.bind(store);
      store.compareAndSet = async (...args) => {
        const version = await cas(...args);
        if (version === null) conflicts++;
        return version;
      };
      const a = await open();
      const b = await open();
      const recA = new Recorder(a);
      const recB = new Recorder(b);
      await startMeeting(a);
      await run(a, chair, { type: 'grant_floor', requestId: await ask(a, DISTRICT) });
      await settle([a, b]);
      expect(a.wakeAt).to.equal(b.wakeAt);
      await advance(clock, [a, b], 10 * MIN);
      const log = await a.readLog(0);
      expect(log.filter((e) => e.type === 'timer_warning').map((e) => e.data.remainingSec)).to.deep.equal([120, 60, 30]);
      expect(log.filter((e) => e.type === 'timer_expired')).to.have.length(1);
      for (const rec of [recA, recB]) {
        expect(rec.seen('timer_warning').map((e: ConferenceEvent & { remainingSec?: number }) => e.remainingSec)).to.deep.equal([120, 60, 30]);
        expect(rec.seqs).to.deep.equal(log.map((e) => e.seq));
      }
      expect(conflicts).to.be.at.least(4);
    });
  });

  it('close is idempotent, emits close once; commands after it, or with a closed store, are refused', async () => {
    const r = await open();
    let closes = 0;
    r.on('close', () => closes++);
    const other = await open();
    await r.close();
    await r.close();
    expect(closes).to.equal(1);
    expect(r.closed).to.equal(true);
    const after = await exec(r, chair, { type: 'start_meeting' });
    expect(after.ok ? null : after.error.code).to.equal('closed');
    await store.close();
    const down = await exec(other, chair, { type: 'start_meeting' });
    expect(down.ok ? null : down.error.code).to.equal('unavailable');
  });
});
