// Issue 15, "Floor and microphones": a break silences the speaker and stops its clock; a holder
// whose link blips keeps the floor for a grace; an operator mutes its hall for a moment. All three
// go through the one microphone rule (openMicrophones) and the core's clock, on a fake clock.
import { expect } from 'chai';
import { nextWakeAt, openMicrophones, remainingMs } from '../../../server/core/conference/index.ts';
import { ask, chair, commune, makeConfig, op, PROVINCE, secretary, started, system } from './fixture.ts';

const MIN = 60_000;
const BREAK_ITEM = 3; // 'giai-lao' in the fixture's agenda

describe('A break silences the speaker', () => {
  it('an explicit break closes every microphone but the chair\'s and stops the clock; after it the speaker goes on with the time they had', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(12)) });
    h.advance(2 * MIN + 7_000);
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE, commune(12)]);
    const left = remainingMs(h.state.floor!.timer, h.clock.now());

    const events = h.run(secretary, { type: 'break_start' });
    expect(events.map((e) => e.type)).to.deep.equal(['timer_paused', 'mic_closed', 'status_changed']);
    expect(events[0]).to.include({ reason: 'break', remainingMs: left });
    expect(events[1]).to.deep.equal({ type: 'mic_closed', bridgeId: commune(12) });
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE]);
    expect(h.state.floor?.bridgeId, 'the speaker keeps the floor').to.equal(commune(12));
    expect(nextWakeAt(h.state), 'no tick while the clock stands').to.equal(null);

    h.advance(15 * MIN);
    expect(remainingMs(h.state.floor!.timer, h.clock.now()), 'the break costs the speaker nothing').to.equal(left);
    // The chair's own pause and resume do not override the break.
    expect(h.refused(chair, { type: 'timer_pause' }).code).to.equal('invalid_state');
    expect(h.refused(chair, { type: 'timer_resume' }).message).to.contain('break');

    const after = h.run(chair, { type: 'break_end' });
    expect(after.map((e) => e.type)).to.deep.equal(['timer_resumed', 'mic_opened', 'status_changed']);
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE, commune(12)]);
    expect(remainingMs(h.state.floor!.timer, h.clock.now())).to.equal(left);
    h.advance(MIN);
    expect(remainingMs(h.state.floor!.timer, h.clock.now())).to.equal(left - MIN);
  });

  it('the agenda moving onto the break item does the same, and moving off it resumes the speaker', () => {
    const h = started(BREAK_ITEM - 1);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-180') });
    h.advance(MIN);
    const onBreak = h.run(chair, { type: 'agenda_next' });
    expect(onBreak.map((e) => e.type)).to.include.members(['agenda_changed', 'timer_paused', 'mic_closed']);
    expect(h.state.status).to.equal('break');
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE]);
    const left = remainingMs(h.state.floor!.timer, h.clock.now());
    h.advance(10 * MIN);
    h.run(chair, { type: 'agenda_next' });
    expect(h.state.status).to.equal('running');
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE, 'd-180']);
    expect(remainingMs(h.state.floor!.timer, h.clock.now())).to.equal(left);
  });

  it('the chair decides otherwise during the break: a revoke, or a grant that starts with its clock stopped', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(3)) });
    const next = ask(h, commune(4));
    h.run(chair, { type: 'break_start' });
    const granted = h.run(chair, { type: 'grant_floor', requestId: next });
    expect(granted.map((e) => e.type)).to.include('timer_paused');
    expect(openMicrophones(h.state), 'nobody but the chair during the break').to.deep.equal([PROVINCE]);
    h.advance(5 * MIN);
    expect(remainingMs(h.state.floor!.timer, h.clock.now())).to.equal(10 * MIN);
    h.run(chair, { type: 'revoke_floor' });
    expect(h.state.floor).to.equal(null);
    expect(h.state.speeches.at(-1)).to.include({ bridgeId: commune(4), spokenMs: 0, endReason: 'revoked' });
  });

  it('a chair\'s pause before the break still holds the clock after it', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(3)) });
    h.run(chair, { type: 'timer_pause' });
    h.run(chair, { type: 'break_start' });
    const after = h.run(chair, { type: 'break_end' });
    expect(after.map((e) => e.type)).to.not.include('timer_resumed');
    expect(h.state.floor!.timer.pausedAt).to.not.equal(null);
    expect(h.run(chair, { type: 'timer_resume' }).map((e) => e.type)).to.deep.equal(['timer_resumed']);
  });
});

describe('A floor holder whose link blips keeps the floor for a grace', () => {
  it('drops, waits with its clock stopped and microphone closed, comes back within the grace and speaks on', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(12)) });
    h.advance(MIN);
    const left = remainingMs(h.state.floor!.timer, h.clock.now());
    const dropped = h.run(system, { type: 'bridge_disconnected', bridgeId: commune(12) });
    expect(dropped.map((e) => e.type)).to.deep.equal(['bridge_offline', 'holder_reconnecting', 'timer_paused', 'mic_closed']);
    expect(dropped[1]).to.deep.equal({ type: 'holder_reconnecting', bridgeId: commune(12), until: h.clock.now() + 30_000 });
    expect(h.state.floor?.bridgeId).to.equal(commune(12));
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE]);
    expect(nextWakeAt(h.state), 'the end of the grace').to.equal(h.clock.now() + 30_000);
    expect(h.state.incidents.at(-1)).to.include({ kind: 'drop_out', detail: 'dropped while holding the floor' });

    h.advance(20_000);
    const back = h.run(system, { type: 'bridge_connected', bridgeId: commune(12) });
    expect(back.map((e) => e.type)).to.deep.equal(['bridge_online', 'holder_returned', 'timer_resumed', 'mic_opened']);
    expect(back[1]).to.deep.equal({ type: 'holder_returned', bridgeId: commune(12), awayMs: 20_000 });
    expect(h.state.floor?.reconnectingUntil).to.equal(null);
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE, commune(12)]);
    expect(remainingMs(h.state.floor!.timer, h.clock.now()), 'the time away is not counted').to.equal(left);
    h.advance(60_000);
    expect(h.state.floor?.bridgeId, 'the old grace deadline does nothing').to.equal(commune(12));
  });

  it('past the grace the floor returns to the chair (the fake clock fires the end of the grace)', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(12)) });
    h.advance(40_000);
    h.run(system, { type: 'bridge_disconnected', bridgeId: commune(12) });
    h.advance(29_999);
    expect(h.state.floor?.bridgeId).to.equal(commune(12));
    h.advance(1);
    expect(h.state.floor).to.equal(null);
    expect(h.seen('floor_ended').at(-1)).to.include({ bridgeId: commune(12), reason: 'offline', spokenSec: 40 });
    expect(h.seen('programme_changed').at(-1)).to.deep.equal({ type: 'programme_changed', bridgeId: PROVINCE, reason: 'offline' });
    expect(h.state.speeches.at(-1)).to.include({ endReason: 'offline', spokenMs: 40_000 });
  });

  it('the chair can end it at any time during the grace', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(12)) });
    h.run(system, { type: 'bridge_disconnected', bridgeId: commune(12) });
    h.advance(5_000);
    h.run(chair, { type: 'revoke_floor' });
    expect(h.state.floor).to.equal(null);
    expect(nextWakeAt(h.state)).to.equal(null);
    h.run(system, { type: 'bridge_connected', bridgeId: commune(12) });
    expect(h.seen('holder_returned')).to.have.length(0);
  });

  it('the plan sets the grace (speaking.holderGraceSeconds); a stored plan without it gets 30 s', () => {
    const h = started(0, makeConfig({ holderGraceSeconds: 90 }));
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(2)) });
    h.run(system, { type: 'bridge_disconnected', bridgeId: commune(2) });
    expect(h.state.floor?.reconnectingUntil).to.equal(h.clock.now() + 90_000);
    const old = makeConfig();
    delete old.speaking.holderGraceSeconds;
    const g = started(0, old);
    g.run(chair, { type: 'grant_floor', requestId: ask(g, commune(2)) });
    g.run(system, { type: 'bridge_disconnected', bridgeId: commune(2) });
    expect(g.state.floor?.reconnectingUntil).to.equal(g.clock.now() + 30_000);
  });
});

describe('An operator mutes its hall for a moment ("Tắt micrô tạm thời")', () => {
  it('the speaking hall muted is closed though it holds the floor; opened again it is heard; the state says so', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(7)) });
    const muted = h.run(op(commune(7)), { type: 'mute_hall', bridgeId: commune(7), muted: true });
    expect(muted).to.deep.equal([{ type: 'hall_muted', bridgeId: commune(7), muted: true }, { type: 'mic_closed', bridgeId: commune(7) }]);
    expect(h.state.mutedHalls).to.deep.equal([commune(7)]);
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE]);
    expect(h.run(op(commune(7)), { type: 'mute_hall', bridgeId: commune(7), muted: true }), 'twice changes nothing').to.deep.equal([]);
    const unmuted = h.run(op(commune(7)), { type: 'mute_hall', bridgeId: commune(7), muted: false });
    expect(unmuted.map((e) => e.type)).to.deep.equal(['hall_muted', 'mic_opened']);
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE, commune(7)]);
  });

  it('the province\'s hall mutes the chair\'s microphone too; an operator mutes only its own hall', () => {
    const h = started(0);
    h.run(op(PROVINCE), { type: 'mute_hall', bridgeId: PROVINCE, muted: true });
    expect(openMicrophones(h.state)).to.deep.equal([]);
    expect(h.refused(op(commune(1)), { type: 'mute_hall', bridgeId: commune(2), muted: true }).code).to.equal('forbidden');
    expect(h.refused(op(commune(1)), { type: 'mute_hall', bridgeId: commune(1), muted: 'yes' as never }).code).to.equal('invalid_argument');
    h.run(chair, { type: 'mute_hall', bridgeId: PROVINCE, muted: false });
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE]);
  });

  it('a mute ends with the hall\'s turn: granted again, it starts heard', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(7)) });
    h.run(op(commune(7)), { type: 'mute_hall', bridgeId: commune(7), muted: true });
    const ended = h.run(op(commune(7)), { type: 'yield_floor' });
    expect(ended.map((e) => e.type)).to.deep.equal(['floor_ended', 'hall_muted', 'programme_changed']);
    expect(h.state.mutedHalls).to.deep.equal([]);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(7)) });
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE, commune(7)]);
  });
});
