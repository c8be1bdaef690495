import { expect } from 'chai';
import { itemElapsedMs } from '../../../server/core/conference/index.ts';
import { ask, chair, connectAll, Harness, secretary, started } from './fixture.ts';

const MIN = 60_000;

describe('programme', () => {
  it('waiting → running → ended, with the status events', () => {
    const h = new Harness();
    expect(h.state.status).to.equal('waiting');
    const events = h.run(chair, { type: 'start_meeting' });
    expect(events).to.deep.equal([
      { type: 'meeting_started', itemId: 'khai-mac' },
      { type: 'status_changed', from: 'waiting', to: 'running' },
    ]);
    expect(h.refused(chair, { type: 'start_meeting' }).code).to.equal('invalid_state');
    h.advance(5 * MIN);
    const end = h.run(chair, { type: 'end_meeting' });
    expect(end.map((e) => e.type)).to.deep.equal(['meeting_ended', 'status_changed']);
    expect(h.state.status).to.equal('ended');
    expect(h.state.endedAt).to.equal(h.state.startedAt! + 5 * MIN);
    expect(h.refused(chair, { type: 'end_meeting' }).code).to.equal('invalid_state');
    expect(h.refused(chair, { type: 'agenda_next' }).code).to.equal('invalid_state');
  });

  it('next/previous walk the items and refuse to leave the programme', () => {
    const h = started(0);
    expect(h.refused(chair, { type: 'agenda_prev' }).code).to.equal('invalid_state');
    const events = h.run(chair, { type: 'agenda_next' });
    expect(events).to.deep.equal([{ type: 'agenda_changed', index: 1, itemId: 'bao-cao', title: 'Báo cáo', kind: 'report', fromItemId: 'khai-mac' }]);
    h.run(chair, { type: 'agenda_goto', index: 5 });
    expect(h.refused(chair, { type: 'agenda_next' }).code).to.equal('invalid_state');
    expect(h.refused(chair, { type: 'agenda_goto', index: 6 }).code).to.equal('invalid_argument');
    expect(h.refused(chair, { type: 'agenda_goto', index: 1.5 }).code).to.equal('invalid_argument');
    h.run(secretary, { type: 'agenda_prev' });
    expect(h.state.agenda.index).to.equal(4);
  });

  it('accumulates elapsed time per item, across returns to an item, and stops during an explicit break', () => {
    const h = started(0);
    h.advance(7 * MIN);
    h.run(chair, { type: 'agenda_next' }); // bao-cao
    h.advance(20 * MIN);
    h.run(secretary, { type: 'break_start' });
    expect(h.state.status).to.equal('break');
    h.advance(10 * MIN); // not counted
    h.run(secretary, { type: 'break_end' });
    expect(h.state.status).to.equal('running');
    h.advance(5 * MIN);
    h.run(chair, { type: 'agenda_prev' }); // back to khai-mac for a minute
    h.advance(1 * MIN);
    h.run(chair, { type: 'agenda_next' });
    h.advance(2 * MIN);
    const now = h.clock.now();
    expect(itemElapsedMs(h.state, 'khai-mac', now)).to.equal(8 * MIN);
    expect(itemElapsedMs(h.state, 'bao-cao', now)).to.equal(27 * MIN);
    expect(h.state.agenda.elapsedMs).to.deep.equal({ 'khai-mac': 8 * MIN, 'bao-cao': 25 * MIN });
  });

  it('a break item puts the meeting in break and its time counts for that item', () => {
    const h = started(2);
    const events = h.run(chair, { type: 'agenda_next' });
    expect(events.map((e) => e.type)).to.deep.equal(['agenda_changed', 'status_changed']);
    expect(events[1]).to.deep.equal({ type: 'status_changed', from: 'running', to: 'break' });
    expect(h.refused(chair, { type: 'break_end' })).to.deep.equal({ code: 'invalid_state', message: 'current item is a break; move to the next item' });
    expect(h.refused(chair, { type: 'break_start' }).code).to.equal('invalid_state');
    h.advance(15 * MIN);
    h.run(chair, { type: 'agenda_next' });
    expect(h.state.status).to.equal('running');
    expect(h.state.agenda.elapsedMs['giai-lao']).to.equal(15 * MIN);
  });

  it('ending the meeting ends the turn, empties the queue and settles the item clock', () => {
    const h = started(0);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    ask(h, 'd-179');
    h.advance(3 * MIN);
    const events = h.run(chair, { type: 'end_meeting' });
    expect(events.map((e) => e.type)).to.deep.equal([
      'floor_ended',
      'mic_closed',
      'programme_changed',
      'meeting_ended',
      'queue_reordered',
      'status_changed',
    ]);
    expect(events[0]).to.include({ reason: 'meeting_ended', spokenSec: 180 });
    expect(events[3]).to.deep.equal({ type: 'meeting_ended', cancelledRequests: 1 });
    expect(h.state.queue).to.deep.equal([]);
    expect(h.state.agenda.itemStartedAt).to.equal(null);
    expect(h.state.agenda.elapsedMs['khai-mac']).to.equal(3 * MIN);
    const body = { type: 'request_floor', bridgeId: 'd-178', speakerName: 'A', speakerTitle: 'B' } as const;
    expect(h.refused(chair, body).code).to.equal('invalid_state');
  });

  it('the agenda can be prepared before the start without running any clock', () => {
    const h = new Harness();
    connectAll(h, ['d-178']);
    h.run(secretary, { type: 'agenda_goto', index: 1 });
    h.advance(MIN);
    expect(h.state.agenda.elapsedMs).to.deep.equal({});
    expect(h.refused(secretary, { type: 'break_start' }).code).to.equal('invalid_state');
  });
});
