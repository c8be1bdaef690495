import { expect } from 'chai';
import { decide, nextWakeAt, speakingTimerView } from '../../../server/core/conference/index.ts';
import { ask, chair, commune, makeConfig, op, PROVINCE, started, system } from './fixture.ts';

const MIN = 60_000;

describe('SpeakingTimer', () => {
  it('a 10-minute speech: warnings at 120, 60, 30 s exactly once, expiry at zero, overtime after', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    const t0 = h.clock.now();
    expect(nextWakeAt(h.state)).to.equal(t0 + 8 * MIN);

    h.advance(8 * MIN - 1);
    expect(h.seen('timer_warning')).to.have.length(0);
    h.advance(1);
    expect(h.seen('timer_warning').map((e) => e.remainingSec)).to.deep.equal([120]);
    h.advance(2 * MIN + 45_000); // well past zero, ticking at every mark on the way
    expect(h.seen('timer_warning').map((e) => e.remainingSec)).to.deep.equal([120, 60, 30]);
    expect(h.seen('timer_expired')).to.deep.equal([{ type: 'timer_expired', bridgeId: 'd-178', deadline: t0 + 10 * MIN, policy: 'notify_chair' }]);
    expect(nextWakeAt(h.state)).to.equal(null);

    // Extra ticks announce nothing again.
    for (let i = 0; i < 5; i++) h.run(system, { type: 'tick' });
    expect(h.seen('timer_warning')).to.have.length(3);
    expect(h.seen('timer_expired')).to.have.length(1);

    // notify_chair: the hall keeps the floor, overtime counts on.
    expect(h.state.floor?.bridgeId).to.equal('d-178');
    expect(speakingTimerView(h.state.floor!.timer, h.clock.now())).to.deep.equal({
      deadline: t0 + 10 * MIN,
      limitMs: 10 * MIN,
      remainingMs: 0,
      overtimeMs: 45_000,
      paused: false,
    });
    const ended = h.run(chair, { type: 'revoke_floor' })[0];
    expect(ended).to.include({ spokenSec: 645, overrunSec: 45 });
  });

  it('the warning events reach the log with the system as actor, at the mark instants', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    const t0 = h.clock.now();
    h.advance(11 * MIN);
    const timerLog = h.state.log.filter((e) => e.type === 'timer_warning' || e.type === 'timer_expired');
    expect(timerLog.map((e) => [e.type, e.at - t0, e.actor.role])).to.deep.equal([
      ['timer_warning', 8 * MIN, 'system'],
      ['timer_warning', 9 * MIN, 'system'],
      ['timer_warning', 9.5 * MIN, 'system'],
      ['timer_expired', 10 * MIN, 'system'],
    ]);
  });

  it('a late tick after zero announces only the expiry', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    h.alarm.close(); // the app missed its wake-ups
    h.clock.increment(10 * MIN + 5000);
    const events = h.run(system, { type: 'tick' });
    expect(events.map((e) => e.type)).to.deep.equal(['timer_expired']);
  });

  it('pause freezes the countdown and resume shifts the deadline by the paused time', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    const t0 = h.clock.now();
    h.advance(3 * MIN);
    const paused = h.run(chair, { type: 'timer_pause' });
    expect(paused).to.deep.equal([{ type: 'timer_paused', bridgeId: 'd-178', remainingMs: 7 * MIN, reason: 'chair' }]);
    expect(nextWakeAt(h.state)).to.equal(null);
    h.advance(20 * MIN); // nothing fires while paused
    expect(h.seen('timer_warning')).to.have.length(0);
    expect(h.refused(chair, { type: 'timer_pause' }).code).to.equal('invalid_state');
    const resumed = h.run(chair, { type: 'timer_resume' });
    expect(resumed).to.deep.equal([{ type: 'timer_resumed', bridgeId: 'd-178', deadline: t0 + 30 * MIN, reason: 'chair' }]);
    expect(nextWakeAt(h.state)).to.equal(t0 + 28 * MIN);
    expect(h.refused(chair, { type: 'timer_resume' }).code).to.equal('invalid_state');
    h.advance(7 * MIN);
    expect(h.seen('timer_expired')).to.have.length(1);
    // Spoken time excludes the pause: 3 + 7 minutes.
    expect(h.run(chair, { type: 'revoke_floor' })[0]).to.include({ spokenSec: 600, overrunSec: 0 });
  });

  it('extend moves the deadline and re-arms the marks the speaker has not yet reached', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    const t0 = h.clock.now();
    h.advance(9 * MIN + 40_000); // 20 s left: 120, 60, 30 given
    expect(h.seen('timer_warning').map((e) => e.remainingSec)).to.deep.equal([120, 60, 30]);
    const ext = h.run(chair, { type: 'timer_extend', seconds: 70 });
    expect(ext).to.deep.equal([{ type: 'timer_extended', bridgeId: 'd-178', seconds: 70, deadline: t0 + 11 * MIN + 10_000 }]);
    // 90 s left: 60 and 30 come again, 120 does not.
    expect(nextWakeAt(h.state)).to.equal(t0 + 10 * MIN + 10_000);
    h.advance(2 * MIN);
    expect(h.seen('timer_warning').map((e) => e.remainingSec)).to.deep.equal([120, 60, 30, 60, 30]);
    expect(h.seen('timer_expired')).to.have.length(1);
    const ended = h.run(chair, { type: 'revoke_floor' })[0];
    expect(ended).to.include({ spokenSec: 700, overrunSec: 30 }); // 9:40 + 2:00 spoken, deadline at 11:10
    expect(h.state.speeches[0]!.limitMs).to.equal(10 * MIN + 70_000);
  });

  it('extend after expiry gives the speaker time again and the expiry is announced again at the new zero', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    h.advance(10 * MIN + 10_000);
    h.run(chair, { type: 'timer_extend', seconds: 20 });
    expect(h.seen('timer_expired')).to.have.length(1);
    h.advance(10_000);
    expect(h.seen('timer_expired')).to.have.length(2);
  });

  it('refuses bad extensions and timer commands without a holder', () => {
    const h = started(0);
    expect(h.refused(chair, { type: 'timer_pause' }).code).to.equal('floor_not_held');
    expect(h.refused(chair, { type: 'timer_extend', seconds: 30 }).code).to.equal('floor_not_held');
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    for (const seconds of [0, -30, 1.5, Number.NaN, 3601]) {
      expect(h.refused(chair, { type: 'timer_extend', seconds }).code).to.equal('invalid_argument');
    }
  });

  it('close_mic: the floor is revoked automatically graceSeconds after zero', () => {
    const h = started(0, makeConfig({ expiryPolicy: 'close_mic', graceSeconds: 15 }));
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(3)) });
    const t0 = h.clock.now();
    h.advance(10 * MIN);
    expect(h.state.floor?.bridgeId).to.equal(commune(3));
    expect(nextWakeAt(h.state)).to.equal(t0 + 10 * MIN + 15_000);
    h.advance(14_999);
    expect(h.state.floor).to.not.equal(null);
    h.advance(1);
    expect(h.state.floor).to.equal(null);
    const ended = h.seen('floor_ended');
    expect(ended).to.deep.equal([
      { type: 'floor_ended', requestId: h.state.speeches[0]!.requestId, bridgeId: commune(3), reason: 'timeout', spokenSec: 615, overrunSec: 15 },
    ]);
    expect(h.seen('programme_changed').at(-1)).to.deep.equal({ type: 'programme_changed', bridgeId: PROVINCE, reason: 'timeout' });
    expect(h.seen('mic_closed').at(-1)).to.deep.equal({ type: 'mic_closed', bridgeId: commune(3) });
    expect(h.state.incidents.filter((i) => i.kind === 'timeout')).to.have.length(1);
    expect(nextWakeAt(h.state)).to.equal(null);
    expect(h.clock.pending).to.equal(0);
  });

  it('limits: the designated speaker override, else the item limit, else the default', () => {
    const h = started(2); // tham-luan: item limit 8, d-180 has 7
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-180') });
    expect(h.seen('floor_granted').at(-1)).to.include({ limitSec: 420, topic: 'Giám sát chuyên đề', itemId: 'tham-luan' });
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(5)) });
    expect(h.seen('floor_granted').at(-1)).to.include({ limitSec: 480, topic: 'Tiếp xúc cử tri' });
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(77)) });
    expect(h.seen('floor_granted').at(-1)).to.include({ limitSec: 480, topic: null });
    h.run(chair, { type: 'agenda_goto', index: 4 }); // thao-luan: no item limit
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(78)) });
    expect(h.seen('floor_granted').at(-1)).to.include({ limitSec: 600, itemId: 'thao-luan' });
  });

  it('a limit shorter than a mark skips that mark', () => {
    const config = makeConfig();
    config.agenda[4]!.limitMinutes = 1; // 60 s: the 120 and 60 s marks are already behind
    const h = started(4, config);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    h.advance(2 * MIN);
    expect(h.seen('timer_warning').map((e) => e.remainingSec)).to.deep.equal([30]);
  });

  it('ticks with nothing due return the same state object and no events', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    const result = decide(h.state, { type: 'tick', actor: system }, h.clock.now() + 1000);
    expect(result).to.deep.equal({ state: h.state, events: [], log: [] });
    expect((result as { state: unknown }).state).to.equal(h.state);
    expect(decide(h.state, { type: 'tick', actor: op('d-178') }, h.clock.now())).to.have.nested.property('error.code', 'forbidden');
  });
});
