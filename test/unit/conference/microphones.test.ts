import { expect } from 'chai';
import { decide, openMicrophones, type ConferenceEvent } from '../../../server/core/conference/index.ts';
import { ask, chair, commune, op, PROVINCE, started, system } from './fixture.ts';

describe('Microphones: one rule (openMicrophones) for the core events and the SFU', () => {
  it('opens the chair alone when nobody holds the floor, the chair and the holder otherwise', () => {
    const h = started(0);
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE]);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-178') });
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE, 'd-178']);
    h.run(chair, { type: 'revoke_floor' });
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE]);
  });

  it('the chair holding the floor opens no second microphone and emits no mic event', () => {
    const h = started(0);
    const events = h.run(chair, { type: 'grant_floor', requestId: ask(h, PROVINCE) });
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE]);
    expect(events.filter((e) => e.type.startsWith('mic_'))).to.deep.equal([]);
  });

  it('every decision\'s mic events take openMicrophones(before) to openMicrophones(after)', () => {
    const h = started(0);
    const steps: [Parameters<typeof h.run>[0], Parameters<typeof h.run>[1]][] = [];
    const a = ask(h, 'd-178');
    const b = ask(h, commune(7));
    const c = ask(h, PROVINCE);
    steps.push(
      [chair, { type: 'grant_floor', requestId: a }],
      [chair, { type: 'grant_floor', requestId: b }], // supersedes d-178
      [op(commune(7)), { type: 'yield_floor' }],
      [chair, { type: 'grant_floor', requestId: c }],
      [chair, { type: 'revoke_floor' }],
    );
    for (const [actor, command] of steps) {
      const before = h.state;
      const result = decide(before, { ...command, actor }, h.clock.now());
      if ('error' in result) throw new Error(result.error.message);
      const open = new Set(openMicrophones(before));
      for (const e of result.events as ConferenceEvent[]) {
        if (e.type === 'mic_opened') open.add(e.bridgeId);
        if (e.type === 'mic_closed') open.delete(e.bridgeId);
      }
      expect([...open].sort(), command.type).to.deep.equal([...openMicrophones(result.state)].sort());
      h.run(actor, command);
    }
    // A holder that drops off closes its microphone through the same rule.
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-180') });
    const dropped = h.run(system, { type: 'bridge_disconnected', bridgeId: 'd-180' });
    expect(dropped.filter((e) => e.type === 'mic_closed')).to.deep.equal([{ type: 'mic_closed', bridgeId: 'd-180' }]);
    expect(openMicrophones(h.state)).to.deep.equal([PROVINCE]);
  });
});
