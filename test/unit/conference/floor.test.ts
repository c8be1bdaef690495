import { expect } from 'chai';
import { decide } from '../../../server/core/conference/index.ts';
import { ask, chair, commune, connectAll, Harness, makeConfig, op, PROVINCE, queueOf, started, system } from './fixture.ts';

describe('FloorQueue: order', () => {
  it('puts designated speakers of the current item first, in plan order, then others first come first served', () => {
    const h = started(2); // tham-luan: d-180, c-00005, d-179
    ask(h, commune(40));
    ask(h, 'd-179');
    ask(h, commune(7));
    ask(h, 'd-180');
    ask(h, commune(5));
    expect(queueOf(h.state)).to.deep.equal(['d-180', commune(5), 'd-179', commune(40), commune(7)]);
    const requested = h.seen('floor_requested');
    expect(requested.map((e) => [e.bridgeId, e.position, e.designated])).to.deep.equal([
      [commune(40), 0, false],
      ['d-179', 0, true],
      [commune(7), 2, false],
      ['d-180', 0, true],
      [commune(5), 1, true],
    ]);
  });

  it('is plain first come first served on an item without designated speakers', () => {
    const h = started(0);
    ask(h, 'd-179');
    ask(h, commune(5));
    ask(h, 'd-180');
    expect(queueOf(h.state)).to.deep.equal(['d-179', commune(5), 'd-180']);
  });

  it('re-orders for the new item when the agenda moves, keeping the others in their order', () => {
    const h = started(0);
    ask(h, commune(40));
    ask(h, 'd-179');
    ask(h, 'd-180');
    ask(h, commune(5));
    const events = h.run(chair, { type: 'agenda_goto', index: 2 });
    expect(queueOf(h.state)).to.deep.equal(['d-180', commune(5), 'd-179', commune(40)]);
    const reordered = events.find((e) => e.type === 'queue_reordered');
    expect(reordered).to.deep.equal({ type: 'queue_reordered', order: h.state.queue.map((r) => r.id) });
  });

  it('lets the chair move an entry to an index, clamped to the end', () => {
    const h = started(0);
    const a = ask(h, 'd-178');
    ask(h, 'd-179');
    const c = ask(h, 'd-180');
    h.run(chair, { type: 'move_request', requestId: c, toIndex: 0 });
    expect(queueOf(h.state)).to.deep.equal(['d-180', 'd-178', 'd-179']);
    h.run(chair, { type: 'move_request', requestId: a, toIndex: 99 });
    expect(queueOf(h.state)).to.deep.equal(['d-180', 'd-179', 'd-178']);
    expect(h.seen('queue_reordered')).to.have.length(2);
    expect(h.refused(chair, { type: 'move_request', requestId: a, toIndex: -1 }).code).to.equal('invalid_argument');
    expect(h.refused(chair, { type: 'move_request', requestId: 'r999', toIndex: 0 }).code).to.equal('not_in_queue');
  });

  it('refuses a second request from the same hall, from the holder, and from an offline or unknown hall', () => {
    const h = started(0);
    const id = ask(h, 'd-178');
    const body = { type: 'request_floor', speakerName: 'A', speakerTitle: 'B' } as const;
    expect(h.refused(op('d-178'), { ...body, bridgeId: 'd-178' }).code).to.equal('already_requested');
    h.run(chair, { type: 'grant_floor', requestId: id });
    expect(h.refused(op('d-178'), { ...body, bridgeId: 'd-178' }).code).to.equal('already_requested');
    h.run(system, { type: 'bridge_disconnected', bridgeId: commune(9) });
    expect(h.refused(op(commune(9)), { ...body, bridgeId: commune(9) }).code).to.equal('bridge_offline');
    expect(h.refused(chair, { ...body, bridgeId: 'x-1' }).code).to.equal('unknown_bridge');
    expect(h.refused(op('d-179'), { ...body, bridgeId: 'd-179', speakerName: '   ' }).code).to.equal('invalid_argument');
  });

  it('lets an operator cancel its own request', () => {
    const h = started(0);
    const id = ask(h, 'd-178');
    ask(h, 'd-179');
    const events = h.run(op('d-178'), { type: 'cancel_request', requestId: id });
    expect(events).to.deep.equal([{ type: 'request_cancelled', requestId: id, bridgeId: 'd-178' }]);
    expect(queueOf(h.state)).to.deep.equal(['d-179']);
    expect(h.refused(op('d-178'), { type: 'cancel_request', requestId: id }).code).to.equal('not_in_queue');
  });
});

describe('FloorQueue: grant, revoke, next, yield', () => {
  it('grant opens the hall, puts it on the programme and starts its timer', () => {
    const h = started(0);
    const id = ask(h, 'd-178', 'Nguyễn Văn A');
    const events = h.run(chair, { type: 'grant_floor', requestId: id });
    expect(events.map((e) => e.type)).to.deep.equal(['floor_granted', 'programme_changed', 'mic_opened']);
    expect(events[0]).to.include({ bridgeId: 'd-178', speakerName: 'Nguyễn Văn A', limitSec: 600, deadline: h.clock.now() + 600_000 });
    expect(events[1]).to.deep.equal({ type: 'programme_changed', bridgeId: 'd-178', reason: 'granted' });
    expect(h.state.floor?.bridgeId).to.equal('d-178');
    expect(h.state.queue).to.have.length(0);
  });

  it('revoke returns the programme to the chair and closes the mic, and records the speech', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    h.advance(95_000);
    const events = h.run(chair, { type: 'revoke_floor' });
    expect(events.map((e) => e.type)).to.deep.equal(['floor_ended', 'mic_closed', 'programme_changed']);
    expect(events[0]).to.include({ bridgeId: 'd-178', reason: 'revoked', spokenSec: 95, overrunSec: 0 });
    expect(events[2]).to.deep.equal({ type: 'programme_changed', bridgeId: PROVINCE, reason: 'revoked' });
    expect(h.state.floor).to.equal(null);
    expect(h.state.speeches).to.have.length(1);
    expect(h.refused(chair, { type: 'revoke_floor' }).code).to.equal('floor_not_held');
  });

  it('next grants the head of the queue, passing over offline halls', () => {
    const h = started(0);
    ask(h, 'd-178');
    ask(h, 'd-179');
    ask(h, 'd-180');
    h.run(system, { type: 'bridge_disconnected', bridgeId: 'd-178' });
    h.run(chair, { type: 'grant_next' });
    expect(h.state.floor?.bridgeId).to.equal('d-179');
    expect(queueOf(h.state)).to.deep.equal(['d-178', 'd-180']);
    h.run(chair, { type: 'grant_next' });
    expect(h.state.floor?.bridgeId).to.equal('d-180');
    expect(h.refused(chair, { type: 'grant_next' }).code).to.equal('bridge_offline');
    h.run(chair, { type: 'cancel_request', requestId: h.state.queue[0]!.id });
    expect(h.refused(chair, { type: 'grant_next' }).code).to.equal('queue_empty');
  });

  it('yield by the holder returns the floor; another operator cannot yield it', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    expect(h.refused(op('d-179'), { type: 'yield_floor' }).code).to.equal('floor_not_held');
    const events = h.run(op('d-178'), { type: 'yield_floor' });
    expect(events[0]).to.include({ type: 'floor_ended', reason: 'yielded' });
    expect(events.at(-1)).to.deep.equal({ type: 'programme_changed', bridgeId: PROVINCE, reason: 'yielded' });
  });

  it('without a holder grace, the holder going offline returns the floor to the chair at once and logs a drop-out', () => {
    const h = started(0, makeConfig({ holderGraceSeconds: 0 }));
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(12)) });
    h.advance(30_000);
    const events = h.run(system, { type: 'bridge_disconnected', bridgeId: commune(12) });
    expect(events.map((e) => e.type)).to.deep.equal(['bridge_offline', 'floor_ended', 'mic_closed', 'programme_changed']);
    expect(events[1]).to.include({ reason: 'offline', spokenSec: 30 });
    expect(events[3]).to.deep.equal({ type: 'programme_changed', bridgeId: PROVINCE, reason: 'offline' });
    expect(h.state.floor).to.equal(null);
    expect(h.state.incidents).to.deep.equal([
      { at: h.clock.now(), kind: 'drop_out', bridgeId: commune(12), detail: 'dropped while holding the floor' },
    ]);
  });

  it('refuses to grant before the start or to an offline hall', () => {
    const h = new Harness();
    connectAll(h, ['d-178', 'd-179']);
    const id = ask(h, 'd-178');
    expect(h.refused(chair, { type: 'grant_floor', requestId: id }).code).to.equal('invalid_state');
    h.run(chair, { type: 'start_meeting' });
    h.run(system, { type: 'bridge_disconnected', bridgeId: 'd-178' });
    expect(h.refused(chair, { type: 'grant_floor', requestId: id }).code).to.equal('bridge_offline');
  });

  it('a hall may ask again after its turn', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    h.run(chair, { type: 'revoke_floor' });
    ask(h, 'd-178');
    expect(queueOf(h.state)).to.deep.equal(['d-178']);
  });
});

describe('FloorQueue: commands applied one after another stay consistent', () => {
  it('two grants in a row: the first turn ends (superseded) and is recorded, one holder remains', () => {
    const h = started(0);
    const a = ask(h, 'd-178');
    const b = ask(h, 'd-179');
    h.run(chair, { type: 'grant_floor', requestId: a });
    h.advance(40_000);
    const events = h.run(chair, { type: 'grant_floor', requestId: b });
    expect(events.map((e) => e.type)).to.deep.equal(['floor_ended', 'mic_closed', 'floor_granted', 'programme_changed', 'mic_opened']);
    expect(events[0]).to.include({ bridgeId: 'd-178', reason: 'superseded', spokenSec: 40 });
    expect(events[3]).to.deep.equal({ type: 'programme_changed', bridgeId: 'd-179', reason: 'granted' });
    expect(h.state.floor?.bridgeId).to.equal('d-179');
    expect(h.state.queue).to.deep.equal([]);
    expect(h.state.speeches.map((s) => [s.bridgeId, s.endReason])).to.deep.equal([['d-178', 'superseded']]);
  });

  it('the same grant twice: the second is refused because the entry left the queue', () => {
    const h = started(0);
    const a = ask(h, 'd-178');
    h.run(chair, { type: 'grant_floor', requestId: a });
    expect(h.refused(chair, { type: 'grant_floor', requestId: a }).code).to.equal('not_in_queue');
    expect(h.state.floor?.requestId).to.equal(a);
  });

  it('grant while the holder yields: whichever comes second sees the first', () => {
    // Grant first, then the old holder's yield arrives: refused, the new holder keeps the floor.
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    const b = ask(h, 'd-179');
    h.run(chair, { type: 'grant_floor', requestId: b });
    expect(h.refused(op('d-178'), { type: 'yield_floor' }).code).to.equal('floor_not_held');
    expect(h.state.floor?.bridgeId).to.equal('d-179');

    // Yield first, then the grant: the programme went back to the chair, then to the new hall.
    const k = started(0);
    k.run(chair, { type: 'grant_floor', requestId: ask(k, 'd-178') });
    const c = ask(k, 'd-179');
    k.run(op('d-178'), { type: 'yield_floor' });
    k.run(chair, { type: 'grant_floor', requestId: c });
    expect(k.state.floor?.bridgeId).to.equal('d-179');
    expect(k.state.speeches.map((s) => s.endReason)).to.deep.equal(['yielded']);
  });

  it('grant of a cancelled request is refused and changes nothing', () => {
    const h = started(0);
    const a = ask(h, 'd-178');
    h.run(op('d-178'), { type: 'cancel_request', requestId: a });
    expect(h.refused(chair, { type: 'grant_floor', requestId: a }).code).to.equal('not_in_queue');
    expect(h.state.floor).to.equal(null);
  });

  it('two decisions from the same state do not share anything', () => {
    const h = started(0);
    const a = ask(h, 'd-178');
    const b = ask(h, 'd-179');
    const base = h.state;
    const snapshot = JSON.stringify(base);
    const r1 = decide(base, { type: 'grant_floor', requestId: a, actor: chair }, h.clock.now());
    const r2 = decide(base, { type: 'grant_floor', requestId: b, actor: chair }, h.clock.now());
    expect(JSON.stringify(base)).to.equal(snapshot);
    if ('error' in r1 || 'error' in r2) throw new Error('refused');
    expect(r1.state.floor?.bridgeId).to.equal('d-178');
    expect(r2.state.floor?.bridgeId).to.equal('d-179');
    expect(r1.state.queue.map((r) => r.id)).to.deep.equal([b]);
  });
});
