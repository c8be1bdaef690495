// The back-channel: a hall's operator writes to the organisers ("Không nghe rõ", "Mất tiếng", free
// text); the chair, secretary and technicians write to the organisers or to one hall. Validated by
// the core, in the log and the report, bounded in the state, and shown to whom it concerns.
import { expect } from 'chai';
import { MAX_MESSAGES, MAX_MESSAGE_TEXT, report, reportCsv } from '../../../server/core/conference/index.ts';
import { viewBuilder } from '../../../server/app/view.ts';
import { defaultPlan } from '../../../config/default-plan.ts';
import { ClientCommand } from '../../../server/protocol/control.ts';
import { chair, commune, op, secretary, started, technician, viewer } from './fixture.ts';

describe('back-channel messages', () => {
  it('a hall signals "Không nghe rõ" with a note; the organisers answer that hall; both are in the state, the log and the report', () => {
    const h = started(0);
    const hall = commune(7);
    const [sent] = h.run(op(hall), { type: 'send_message', to: 'staff', kind: 'cant_hear', text: 'tiếng chủ tọa bị rè' });
    expect(sent).to.deep.include({ type: 'message_sent', fromRole: 'operator', fromBridgeId: hall, to: 'staff', kind: 'cant_hear', text: 'Không nghe rõ: tiếng chủ tọa bị rè' });
    h.advance(5000);
    h.run(technician, { type: 'send_message', to: hall, kind: 'text', text: '  Đã nhận, đang kiểm tra micrô của chủ tọa.  ' });
    h.run(op('d-178'), { type: 'send_message', to: 'staff', kind: 'no_sound' });
    expect(h.state.messages!.map((m) => m.text)).to.deep.equal(['Không nghe rõ: tiếng chủ tọa bị rè', 'Đã nhận, đang kiểm tra micrô của chủ tọa.', 'Mất tiếng']);
    expect(h.state.log.filter((e) => e.type === 'message_sent')).to.have.length(3);
    const r = report(h.state);
    expect(r.messages.map((m) => [m.fromName, m.toName, m.text])).to.deep.equal([
      ['Xã Số 7', 'Ban tổ chức', 'Không nghe rõ: tiếng chủ tọa bị rè'],
      ['Kỹ thuật viên Viễn thông', 'Xã Số 7', 'Đã nhận, đang kiểm tra micrô của chủ tọa.'],
      ['Huyện Số 1', 'Ban tổ chức', 'Mất tiếng'],
    ]);
    const csv = reportCsv(r)['messages.csv'].split('\r\n');
    expect(csv[0]).to.equal('at,from_role,from_bridge_id,from,to,to_name,kind,text');
    expect(csv[1]).to.match(/^2021-11-26T08:00:00\+07:00,operator,c-00007,Xã Số 7,staff,Ban tổ chức,cant_hear,Không nghe rõ: tiếng chủ tọa bị rè$/);
  });

  it('refuses what is not a message, and changes nothing', () => {
    const h = started(0);
    expect(h.refused(op(commune(1)), { type: 'send_message', to: commune(2), kind: 'text', text: 'xin chào' }).code, 'hall to hall').to.equal('forbidden');
    expect(h.refused(viewer, { type: 'send_message', to: 'staff', kind: 'text', text: 'x' }).code).to.equal('forbidden');
    expect(h.refused(chair, { type: 'send_message', to: 'c-99999', kind: 'text', text: 'x' }).code).to.equal('unknown_bridge');
    expect(h.refused(chair, { type: 'send_message', to: 'staff', kind: 'shout' as never, text: 'x' }).code).to.equal('invalid_argument');
    expect(h.refused(secretary, { type: 'send_message', to: 'staff', kind: 'text', text: '   ' }).code, 'empty text').to.equal('invalid_argument');
    expect(h.refused(secretary, { type: 'send_message', to: 'staff', kind: 'text', text: 'x'.repeat(MAX_MESSAGE_TEXT + 1) }).code).to.equal('invalid_argument');
    expect(h.refused(secretary, { type: 'send_message', to: 'staff', kind: 'text', text: 42 as never }).code).to.equal('invalid_argument');
    // The wire refuses the same before the core sees it.
    expect(ClientCommand.safeParse({ type: 'send_message', to: 'staff', kind: 'text', text: 'x'.repeat(MAX_MESSAGE_TEXT + 1) }).success).to.equal(false);
    expect(ClientCommand.safeParse({ type: 'send_message', to: 'staff', kind: 'no_picture' }).success).to.equal(true);
  });

  it('keeps the last MAX_MESSAGES in the state', () => {
    const h = started(0);
    for (let i = 0; i < MAX_MESSAGES + 5; i++) h.run(chair, { type: 'send_message', to: 'staff', kind: 'text', text: `tin ${i}` });
    expect(h.state.messages).to.have.length(MAX_MESSAGES);
    expect(h.state.messages![0]!.text).to.equal('tin 5');
  });

  it('the staff see every hall\'s messages, a hall only its own, the press none', () => {
    const plan = defaultPlan();
    const h = started(0);
    const a = plan.bridges.find((b) => b.tier === 'commune')!.id;
    const b = plan.bridges.filter((x) => x.tier === 'commune')[1]!.id;
    const state = { ...h.state, messages: [
      { id: 'm1', at: 1, from: { role: 'operator' as const, bridgeId: a }, to: 'staff', kind: 'no_sound' as const, text: 'Mất tiếng' },
      { id: 'm2', at: 2, from: { role: 'operator' as const, bridgeId: b }, to: 'staff', kind: 'cant_hear' as const, text: 'Không nghe rõ' },
      { id: 'm3', at: 3, from: { role: 'chair' as const }, to: a, kind: 'text' as const, text: 'Đã nhận' },
    ] };
    const viewOf = viewBuilder('c', plan, state, 10, plan.bridges[0]!.id);
    expect(viewOf({ role: 'technician' }).messages!.map((m) => m.id)).to.deep.equal(['m1', 'm2', 'm3']);
    expect(viewOf({ role: 'operator', bridgeId: a }).messages!.map((m) => m.id)).to.deep.equal(['m1', 'm3']);
    expect(viewOf({ role: 'operator', bridgeId: b }).messages!.map((m) => [m.id, m.fromName])).to.deep.equal([['m2', plan.bridges.find((x) => x.id === b)!.name]]);
    expect(viewOf({ role: 'viewer' }).messages).to.equal(undefined);
  });
});
