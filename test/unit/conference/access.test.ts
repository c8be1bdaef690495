import { expect } from 'chai';
import { COMMAND_ROLES, COMMAND_TYPES, decide } from '../../../server/core/conference/index.ts';
import type { Actor, CommandType } from '../../../server/core/conference/index.ts';
import { ask, chair, commune, op, secretary, started, system, technician, viewer } from './fixture.ts';

describe('authorisation', () => {
  it('technicians change nothing but write on the back-channel; viewers change nothing', () => {
    const h = started(0);
    for (const actor of [technician, viewer]) {
      for (const type of COMMAND_TYPES) {
        if (actor === technician && type === 'send_message') continue;
        const result = decide(h.state, { type, actor, bridgeId: 'd-178', requestId: 'r1' } as never, h.clock.now());
        expect(result, `${actor.role} ${type}`).to.have.nested.property('error.code', 'forbidden');
      }
    }
  });

  it('the role table matches the decisions for every role and command', () => {
    const h = started(0);
    const actors: Actor[] = [chair, secretary, op('d-178'), technician, viewer, system];
    const allowed: Record<string, CommandType[]> = {};
    for (const actor of actors) {
      allowed[actor.role] = COMMAND_TYPES.filter((type) => {
        const result = decide(h.state, { type, actor } as never, h.clock.now());
        return !('error' in result && result.error.code === 'forbidden');
      });
      // A hall's operator shares its screen only while it holds the floor (screen.test.ts): here it does not.
      const needsFloor = (t: CommandType): boolean => actor.role === 'operator' && t === 'screen_share_start';
      expect(allowed[actor.role], actor.role).to.deep.equal(COMMAND_TYPES.filter((t) => COMMAND_ROLES[t].includes(actor.role) && !needsFloor(t)));
    }
    expect(allowed.chair).to.include.members(['grant_floor', 'grant_next', 'revoke_floor', 'move_request', 'timer_extend', 'agenda_next', 'end_meeting']);
    expect(allowed.secretary).to.deep.equal([
      'request_floor',
      'cancel_request',
      'agenda_next',
      'agenda_prev',
      'agenda_goto',
      'break_start',
      'break_end',
      'report_ready',
      'mute_hall',
      'set_maket',
      'set_date',
      'recording_start',
      'recording_stop',
      'send_message',
      'paper_submit',
      'content_show',
      'content_page',
      'content_clear',
      'screen_share_start',
      'screen_share_stop',
    ]);
    // The finer paper rules (own hall, holding the floor) are in papers.test.ts.
    expect(allowed.operator).to.deep.equal(['request_floor', 'cancel_request', 'yield_floor', 'report_ready', 'mute_hall', 'send_message', 'paper_submit', 'content_show', 'content_page', 'content_clear', 'screen_share_stop']);
    expect(allowed.technician).to.deep.equal(['send_message']);
    expect(allowed.system).to.deep.equal(['bridge_connected', 'bridge_disconnected', 'presence_update', 'screen_source_lost', 'tick']);
  });

  it('an operator of one commune cannot act for another bridge', () => {
    const h = started(0);
    const mine = op(commune(1));
    const other = commune(2);
    const request = { type: 'request_floor', bridgeId: other, speakerName: 'A', speakerTitle: 'B' } as const;
    expect(h.refused(mine, request).code).to.equal('forbidden');
    expect(h.refused(mine, { type: 'report_ready', bridgeId: other, attendees: 30 }).code).to.equal('forbidden');
    const theirs = ask(h, other);
    expect(h.refused(mine, { type: 'cancel_request', requestId: theirs }).code).to.equal('forbidden');
    h.run(chair, { type: 'grant_floor', requestId: theirs });
    expect(h.refused(mine, { type: 'yield_floor' }).code).to.equal('floor_not_held');
    expect(h.state.floor?.bridgeId).to.equal(other);
  });

  it('an operator cannot act as chair', () => {
    const h = started(0);
    const mine = op(commune(1));
    const id = ask(h, commune(1));
    for (const command of [
      { type: 'grant_floor', requestId: id },
      { type: 'grant_next' },
      { type: 'revoke_floor' },
      { type: 'move_request', requestId: id, toIndex: 0 },
      { type: 'timer_extend', seconds: 60 },
      { type: 'agenda_next' },
      { type: 'break_start' },
      { type: 'end_meeting' },
      { type: 'set_date', date: '2021-11-26' },
      { type: 'bridge_disconnected', bridgeId: commune(2) },
    ] as const) {
      expect(h.refused(mine, command).code, command.type).to.equal('forbidden');
    }
    // Claiming the chair's role with an operator's bridge changes nothing either: the role decides.
    expect(h.refused({ role: 'operator', bridgeId: 'p-20' }, { type: 'grant_floor', requestId: id }).code).to.equal('forbidden');
  });

  it('an operator without a bridge, a bad actor or a missing actor is forbidden', () => {
    const h = started(0);
    const body = { type: 'request_floor', bridgeId: 'd-178', speakerName: 'A', speakerTitle: 'B' };
    expect(decide(h.state, { ...body, actor: { role: 'operator' } }, 0)).to.have.nested.property('error.code', 'forbidden');
    expect(decide(h.state, { ...body, actor: { role: 'admin' } }, 0)).to.have.nested.property('error.code', 'forbidden');
    expect(decide(h.state, body, 0)).to.have.nested.property('error.code', 'forbidden');
  });

  it('the secretary walks the agenda and the breaks but does not give the floor', () => {
    const h = started(0);
    h.run(secretary, { type: 'agenda_next' });
    h.run(secretary, { type: 'agenda_prev' });
    h.run(secretary, { type: 'break_start' });
    h.run(secretary, { type: 'break_end' });
    const id = ask(h, 'd-178');
    expect(h.refused(secretary, { type: 'grant_floor', requestId: id }).code).to.equal('forbidden');
    expect(h.refused(secretary, { type: 'timer_pause' }).code).to.equal('forbidden');
  });
});
