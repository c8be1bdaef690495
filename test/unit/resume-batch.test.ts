// A switch resumes every ready hall together (one keyframe), but does not wait for the slowest
// few: with 212 halls it goes once 202 runs have settled, not at its deadline.
import { expect } from 'chai';
import type { types as ms } from 'mediasoup';
import { ResumeBatch, switchQuorum } from '../../sfu/ResumeBatch.ts';

/** A consumer that records when it was resumed (the batch only calls resume and reads closed). */
function fakeConsumer(log: number[], kind: 'audio' | 'video' = 'video', order?: string[]): ms.Consumer {
  return {
    closed: false,
    kind,
    resume: async () => {
      log.push(Date.now());
      order?.push(kind);
    },
  } as unknown as ms.Consumer;
}

const after = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ResumeBatch (fake consumers: only resume() and closed are used)', () => {
  it('a small meeting waits for every hall; 212 halls leave at most 10 behind', () => {
    expect(switchQuorum(4)).to.equal(4);
    expect(switchQuorum(19)).to.equal(19);
    expect(switchQuorum(20)).to.equal(19);
    expect(switchQuorum(212)).to.equal(202);
    expect(switchQuorum(0)).to.equal(0);
  });

  it('resumes the ready halls together once all but the stragglers are done, long before the deadline', async () => {
    const resumed: number[] = [];
    const batch = new ResumeBatch(2000);
    const started = Date.now();
    const runs = Array.from({ length: 212 }, (_, i) =>
      i < 205
        ? after(5).then(() => batch.add(fakeConsumer(resumed)))
        : after(1500).then(() => batch.add(fakeConsumer(resumed))), // 7 slow browsers
    );
    await batch.run(runs);
    const took = Date.now() - started;
    expect(took, 'the switch went without the 7 slow halls').to.be.below(1000);
    expect(batch.timings.deadlineHit).to.equal(false);
    // It goes at the quorum (202); the last of the quick ones may land just after it, resumed at once.
    expect(batch.timings.resumed).to.be.within(202, 205);
    expect(batch.timings.stragglers).to.be.within(7, 10);
    await after(20);
    expect(resumed).to.have.length(205);
    // The stragglers are resumed as soon as they are ready.
    await Promise.all(runs);
    expect(resumed).to.have.length(212);
  });

  it('waits for every hall of a small meeting, up to its deadline', async () => {
    const resumed: number[] = [];
    const batch = new ResumeBatch(300);
    const runs = [after(5), after(5), after(5), after(5000)].map((p) => p.then(() => batch.add(fakeConsumer(resumed))));
    const started = Date.now();
    await batch.run(runs);
    expect(Date.now() - started).to.be.at.least(290);
    expect(batch.timings.deadlineHit).to.equal(true);
    expect(batch.timings.stragglers).to.equal(1);
    expect(resumed).to.have.length(3);
  });

  it('resumes the video consumers before the audio ones (the first video resume asks for the keyframe every hall must catch)', async () => {
    const resumed: number[] = [];
    const order: string[] = [];
    const batch = new ResumeBatch(300);
    const runs = Array.from({ length: 6 }, (_, i) => after(1).then(() => batch.add(fakeConsumer(resumed, i % 2 ? 'audio' : 'video', order))));
    await batch.run(runs);
    expect(order).to.deep.equal(['video', 'video', 'video', 'audio', 'audio', 'audio']);
  });
});
