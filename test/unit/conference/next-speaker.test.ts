// The next speaker is one rule of the core: grant_next gives the floor to nextSpeaker(state), and
// the app prepares that same hall's media at every hall before the chair clicks.
import { expect } from 'chai';
import { decide, nextSpeaker, type ConferenceState } from '../../../server/core/conference/index.ts';
import { ask, chair, commune, Harness, started, system } from './fixture.ts';

/** What grant_next would do in this state: the bridge it grants, or the code it refuses with. */
function grantNext(h: Harness): string {
  const d = decide(h.state, { type: 'grant_next', actor: chair }, h.clock.now());
  if ('error' in d) return `refused:${d.error.code}`;
  return d.events.find((e) => e.type === 'floor_granted')!.bridgeId;
}

const nextOf = (state: ConferenceState): string | null => nextSpeaker(state)?.bridgeId ?? null;

describe('nextSpeaker: the one rule behind grant_next and the prepared next hall', () => {
  it('is the head of the queue while it is online; null on an empty queue', () => {
    const h = started(0);
    expect(nextSpeaker(h.state)).to.equal(null);
    expect(grantNext(h)).to.equal('refused:queue_empty');
    const r1 = ask(h, 'd-179');
    ask(h, commune(7));
    expect(nextSpeaker(h.state)?.id).to.equal(r1);
    expect(nextOf(h.state)).to.equal(grantNext(h)).and.to.equal('d-179');
  });

  it('passes over an offline hall, which keeps its place and is next again when it is back', () => {
    const h = started(0);
    ask(h, 'd-179');
    ask(h, commune(7));
    ask(h, 'd-180');
    h.run(system, { type: 'bridge_disconnected', bridgeId: 'd-179' });
    expect(h.state.queue.map((r) => r.bridgeId)).to.deep.equal(['d-179', commune(7), 'd-180']);
    expect(nextOf(h.state)).to.equal(commune(7));
    expect(grantNext(h)).to.equal(commune(7));
    h.run(system, { type: 'bridge_disconnected', bridgeId: commune(7) });
    expect(nextOf(h.state)).to.equal('d-180');
    h.run(system, { type: 'bridge_connected', bridgeId: 'd-179' });
    expect(nextOf(h.state)).to.equal('d-179');
    expect(grantNext(h)).to.equal('d-179');
  });

  it('is null when every hall in the queue is offline, and grant_next refuses with bridge_offline', () => {
    const h = started(0);
    ask(h, 'd-179');
    ask(h, commune(7));
    for (const bridgeId of ['d-179', commune(7)]) h.run(system, { type: 'bridge_disconnected', bridgeId });
    expect(nextSpeaker(h.state)).to.equal(null);
    expect(grantNext(h)).to.equal('refused:bridge_offline');
  });

  it('agrees with grant_next in every state of a long random meeting', () => {
    const h = started(2);
    const halls = ['d-178', 'd-179', 'd-180', 'd-181', commune(5), commune(7), commune(40)];
    // A fixed pseudo-random sequence: the same walk every run.
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let checked = 0;
    for (let step = 0; step < 400; step++) {
      const hall = halls[random(halls.length)]!;
      const online = h.state.presence[hall]!.online;
      const queued = h.state.queue.some((r) => r.bridgeId === hall) || h.state.floor?.bridgeId === hall;
      switch (random(5)) {
        case 0:
          h.run(system, { type: online ? 'bridge_disconnected' : 'bridge_connected', bridgeId: hall });
          break;
        case 1:
        case 2:
          if (online && !queued) ask(h, hall);
          break;
        case 3:
          if (h.state.queue.length > 1) h.run(chair, { type: 'move_request', requestId: h.state.queue.at(-1)!.id, toIndex: 0 });
          break;
        case 4: {
          const expected = nextOf(h.state);
          const granted = grantNext(h);
          if (h.state.queue.length === 0) expect(granted).to.equal('refused:queue_empty');
          else expect(granted).to.equal(expected ?? 'refused:bridge_offline');
          if (expected) h.run(chair, { type: 'grant_next' });
          checked++;
          break;
        }
      }
    }
    expect(checked).to.be.greaterThan(50);
  });
});
