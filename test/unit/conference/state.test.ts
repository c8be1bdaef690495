import { expect } from 'chai';
import { COMMAND_TYPES, decide, initialState, logSince, nextWakeAt } from '../../../server/core/conference/index.ts';
import type { ConferenceState } from '../../../server/core/conference/index.ts';
import { ask, chair, commune, makeConfig, op, PROVINCE, secretary, started, system, T0 } from './fixture.ts';

const MIN = 60_000;
const roundTrip = (s: ConferenceState): ConferenceState => JSON.parse(JSON.stringify(s));

describe('conference state', () => {
  it('survives a JSON round-trip mid-speech: same queue, holder, deadline; decide carries on', () => {
    const h = started(2);
    ask(h, commune(40));
    ask(h, commune(5));
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-180') });
    h.advance(3 * MIN);
    h.run(chair, { type: 'timer_pause' });
    h.advance(MIN);
    h.run(chair, { type: 'timer_resume' });
    const restored = roundTrip(h.state);
    expect(restored).to.deep.equal(h.state);
    expect(nextWakeAt(restored)).to.equal(nextWakeAt(h.state));

    // As after a restart: the app re-arms its alarm from the restored state and goes on.
    h.state = restored;
    h.alarm.set(nextWakeAt(h.state));
    h.advance(4 * MIN); // 7-minute limit, 1 minute paused: warnings at 5, 6, 6.5 min spoken
    expect(h.seen('timer_warning').map((e) => e.remainingSec)).to.deep.equal([120, 60, 30]);
    h.run(chair, { type: 'grant_next' });
    expect(h.state.floor?.bridgeId).to.equal(commune(5));
    expect(h.state.speeches[0]).to.deep.include({ bridgeId: 'd-180', spokenMs: 7 * MIN, overrunMs: 0, limitMs: 7 * MIN });
    expect(roundTrip(h.state)).to.deep.equal(h.state);
  });

  it('decide never mutates the state it is given', () => {
    const h = started(0);
    const id = ask(h, 'd-178');
    const before = h.state;
    const frozen = JSON.stringify(before);
    decide(before, { type: 'grant_floor', requestId: id, actor: chair }, h.clock.now());
    decide(before, { type: 'bridge_disconnected', bridgeId: 'd-178', actor: system }, h.clock.now());
    decide(before, { type: 'presence_update', changes: [{ bridgeId: 'd-178', online: false }, { bridgeId: 'd-179', online: false }, { bridgeId: 'd-179', online: true }], actor: system }, h.clock.now());
    decide(before, { type: 'report_ready', bridgeId: 'd-180', attendees: 30, actor: op('d-180') }, h.clock.now());
    decide(before, { type: 'end_meeting', actor: chair }, h.clock.now());
    expect(JSON.stringify(before)).to.equal(frozen);
    // Entries a command did not touch are shared with the next state; the ones it changed are new.
    const next = decide(before, { type: 'bridge_disconnected', bridgeId: 'd-178', actor: system }, h.clock.now());
    if ('error' in next) throw new Error(next.error.message);
    expect(next.state.presence['d-179']).to.equal(before.presence['d-179']);
    expect(next.state.presence['d-178']).to.not.equal(before.presence['d-178']);
    expect(Object.keys(next.state)).to.deep.equal(Object.keys(before));
  });

  it('every accepted change is logged with seq, time, actor, type and data', () => {
    const h = started(0);
    const seq = h.state.seq;
    h.advance(1000);
    const id = ask(h, 'd-178', 'Lê B');
    const result = decide(h.state, { type: 'grant_floor', requestId: id, actor: chair }, h.clock.now());
    if ('error' in result) throw new Error(result.error.message);
    expect(result.log.map((e) => [e.seq, e.type])).to.deep.equal([
      [seq + 2, 'floor_granted'],
      [seq + 3, 'programme_changed'],
      [seq + 4, 'mic_opened'],
    ]);
    const [first] = logSince(result.state, seq);
    expect(first).to.deep.equal({
      seq: seq + 1,
      at: T0 + 1000,
      actor: { role: 'operator', bridgeId: 'd-178' },
      type: 'floor_requested',
      data: { requestId: id, bridgeId: 'd-178', speakerName: 'Lê B', speakerTitle: 'Chủ tịch HĐND', topic: null, position: 0, designated: false },
    });
    expect(result.state.log.map((e) => e.seq)).to.deep.equal(Array.from({ length: seq + 4 }, (_, i) => i + 1));
  });

  it('the secretary edits the maket and sets the date', () => {
    const h = started(0);
    const maket = { lines: ['THƯỜNG TRỰC HĐND {LOCALITY_UPPER}', 'HỘI NGHỊ GIAO BAN'], background: '#c00000', textColour: '#ffde00' };
    expect(h.run(secretary, { type: 'set_maket', maket })).to.deep.equal([{ type: 'maket_changed', maket }]);
    expect(h.state.maketOverride).to.deep.equal(maket);
    h.run(secretary, { type: 'set_maket', maket: { textColour: '#fff' } });
    expect(h.state.maketOverride).to.deep.equal({ textColour: '#fff' });
    h.run(chair, { type: 'set_maket', maket: null });
    expect(h.state.maketOverride).to.equal(null);
    for (const bad of [{ background: 'red' }, { lines: [] }, { lines: [1] }, { colour: '#fff' }, 'x', { lines: Array(13).fill('a') }]) {
      expect(h.refused(secretary, { type: 'set_maket', maket: bad as never }).code).to.equal('invalid_argument');
    }
    expect(h.run(secretary, { type: 'set_date', date: '2021-11-26' })).to.deep.equal([{ type: 'date_changed', date: '2021-11-26' }]);
    expect(h.state.date).to.equal('2021-11-26');
    h.run(secretary, { type: 'set_date', date: null });
    expect(h.state.date).to.equal(null);
    for (const date of ['2021-02-30', '26/11/2021', '2021-11-26T08:00', '', 20211126]) {
      expect(h.refused(secretary, { type: 'set_date', date: date as never }).code).to.equal('invalid_argument');
    }
    expect(h.refused(op(PROVINCE), { type: 'set_date', date: '2021-11-27' }).code).to.equal('forbidden');
  });

  it('never throws on garbage: a refusal with a stable code for every malformed command', () => {
    const h = started(0);
    ask(h, 'd-178');
    const bare = Object.create(null) as Record<string, unknown>;
    const garbage: unknown[] = [{ type: bare, actor: chair }, { type: 'grant_floor', actor: chair, requestId: bare }, null, undefined, 42, 'grant_floor', [], {}, { type: 'nope', actor: chair }, { type: '__proto__', actor: chair }];
    const actors = [chair, secretary, op('d-178'), system, { role: 'operator', bridgeId: 7 }, null];
    const values = [undefined, null, -1, 1e308, Number.NaN, '', 'x'.repeat(10_000), {}, [], '__proto__', 'constructor', 'r1'];
    for (const type of COMMAND_TYPES) {
      for (const actor of actors) {
        for (const v of values) {
          garbage.push({
            type,
            actor,
            bridgeId: v,
            requestId: v,
            toIndex: v,
            index: v,
            seconds: v,
            attendees: v,
            speakerName: v,
            speakerTitle: v,
            topic: v,
            maket: v,
            date: v,
            ready: v,
          });
        }
      }
    }
    const frozen = JSON.stringify(h.state);
    let refused = 0;
    for (const command of garbage) {
      const result = decide(h.state, command, h.clock.now());
      if ('error' in result) {
        refused++;
        expect(result.error.code).to.be.a('string');
        expect(result.error.message).to.be.a('string');
      }
    }
    expect(JSON.stringify(h.state)).to.equal(frozen);
    expect(refused).to.be.greaterThan(garbage.length * 0.9);
    expect(decide(h.state, { type: 'tick', actor: system }, Number.NaN)).to.have.nested.property('error.code', 'invalid_argument');
  });

  it('initialState refuses an inconsistent configuration', () => {
    const bad = makeConfig();
    bad.bridges.push({ id: 'c-99999', tier: 'commune', parentId: 'p-20', name: 'Xã Lạc' });
    bad.chairBridgeId = 'd-178';
    expect(() => initialState(bad)).to.throw(/bad parent \[id:c-99999.*chair bridge must be the province/);
    const state = initialState(makeConfig());
    expect(Object.keys(state.presence)).to.have.length(212);
    expect(state).to.include({ status: 'waiting', seq: 0, floor: null, date: null });
  });
});
