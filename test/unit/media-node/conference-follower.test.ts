// A media node's view of the conference (issue 13): the ConferenceFollower reads the store and
// never writes; it waits for a conference a control instance has not created yet, follows every
// write, and a burst of writes costs fewer loads than writes. The derivation the media follows
// (on air, next, open microphones) comes from the core's pure functions.
import { expect } from 'chai';
import { ConferenceFollower } from '../../../server/app/conference/ConferenceFollower.ts';
import { nextSpeaker, onAirOf, openMicrophones } from '../../../server/core/conference/index.ts';
import { MemoryConferenceStore, type ConferenceStore } from '../../../server/store/index.ts';
import { ConferenceRunner } from '../../../server/app/conference/ConferenceRunner.ts';
import { defaultPlan } from '../../../config/default-plan.ts';
import { chair, COMMUNE, DISTRICT, op, PROVINCE } from '../store/helpers.ts';

describe('ConferenceFollower (memory store)', () => {
  it('waits for the conference, follows the runner\'s writes without writing, and gives what the media derives', async () => {
    const store = new MemoryConferenceStore();
    let loads = 0;
    // The follower's view of the store can read and listen, nothing else: a write would throw.
    const readOnly = { load: async (id: string) => (loads++, store.load(id)), subscribe: store.subscribe.bind(store), readLog: store.readLog.bind(store) } as unknown as ConferenceStore;
    let writes = 0;
    const cas = store.compareAndSet.bind(store);
    const following = ConferenceFollower.create({ conferenceId: 'f', store: readOnly });
    let settled = false;
    void following.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled, 'no conference yet: still waiting').to.equal(false);

    const runner = await ConferenceRunner.create({ conferenceId: 'f', plan: defaultPlan(), store });
    store.compareAndSet = async (...args) => (writes++, cas(...args));
    const follower = await following;
    expect(onAirOf(follower.state)).to.equal(PROVINCE);
    const seen: number[] = [];
    follower.on('state', (c) => seen.push(c.version));

    for (const id of [COMMUNE, DISTRICT]) expect((await runner.execute({ type: 'bridge_connected', actor: { role: 'system' }, bridgeId: id } as never)).ok).to.equal(true);
    expect((await runner.execute({ type: 'start_meeting', actor: chair })).ok).to.equal(true);
    for (const id of [COMMUNE, DISTRICT]) {
      expect((await runner.execute({ type: 'request_floor', actor: op(id), bridgeId: id, speakerName: 'A', speakerTitle: 'B' })).ok).to.equal(true);
    }
    expect((await runner.execute({ type: 'grant_next', actor: chair })).ok).to.equal(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(follower.version).to.equal(runner.version);
    expect(seen.at(-1)).to.equal(runner.version);
    expect(onAirOf(follower.state)).to.equal(COMMUNE);
    expect(nextSpeaker(follower.state)?.bridgeId).to.equal(DISTRICT);
    expect(openMicrophones(follower.state)).to.deep.equal([PROVINCE, COMMUNE]);
    expect(writes).to.equal(6);
    expect(loads, 'a burst of writes: at most one load each (and the first)').to.be.within(2, writes + 2);
    await follower.close();
    await follower.close();
    await runner.close();
  });
});
