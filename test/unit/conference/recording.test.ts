import { expect } from 'chai';
import { chair, op, secretary, started, technician, viewer } from './fixture.ts';

describe('recording: the secretary or the chair start and stop the archive recording', () => {
  it('the secretary starts it, the state and the log say so, the chair stops it with its duration', () => {
    const h = started(0);
    const [e] = h.run(secretary, { type: 'recording_start' });
    expect(e).to.deep.include({ type: 'recording_started' });
    const id = (e as { recordingId: string }).recordingId;
    expect(h.state.recording).to.deep.equal({ recordingId: id, startedAt: h.clock.now() });
    expect(h.state.log.at(-1)).to.deep.include({ type: 'recording_started', actor: { role: 'secretary' } });
    h.advance(90_000);
    const [stopped] = h.run(chair, { type: 'recording_stop' });
    expect(stopped).to.deep.equal({ type: 'recording_stopped', recordingId: id, startedAt: h.clock.now() - 90_000, durationSec: 90 });
    expect(h.state.recording).to.equal(null);
  });

  it('cannot start twice nor stop what is not recording', () => {
    const h = started(0);
    expect(h.refused(secretary, { type: 'recording_stop' }).code).to.equal('invalid_state');
    h.run(secretary, { type: 'recording_start' });
    expect(h.refused(chair, { type: 'recording_start' }).code).to.equal('invalid_state');
  });

  it('operators, technicians and viewers are refused with forbidden', () => {
    const h = started(0);
    for (const actor of [op('d-178'), technician, viewer]) {
      expect(h.refused(actor, { type: 'recording_start' }).code, actor.role).to.equal('forbidden');
    }
    h.run(secretary, { type: 'recording_start' });
    expect(h.refused(op('d-178'), { type: 'recording_stop' }).code).to.equal('forbidden');
    expect(h.state.recording).to.not.equal(null);
  });

  it('the end of the meeting stops the recording', () => {
    const h = started(0);
    h.run(secretary, { type: 'recording_start' });
    const events = h.run(chair, { type: 'end_meeting' });
    expect(events.map((e) => e.type)).to.include('recording_stopped');
    expect(h.state.recording).to.equal(null);
  });
});
