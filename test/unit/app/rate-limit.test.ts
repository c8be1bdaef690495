// The floor-request rate limit on a fake clock: a sliding window per key.
import { expect } from 'chai';
import { RateLimit } from '../../../server/app/rate-limit.ts';
import { FakeClock } from '../../../server/core/conference/index.ts';

describe('RateLimit (fake clock)', () => {
  it('allows `limit` uses per window and refuses the next; a refused use does not count', () => {
    const clock = new FakeClock(1000);
    const limit = new RateLimit({ limit: 5, windowMs: 60_000, clock });
    const taken: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      taken.push(limit.take('c-05971'));
      clock.increment(1000);
    }
    expect(taken).to.deep.equal([true, true, true, true, true]);
    expect(limit.take('c-05971')).to.equal(false);
    // Refusals do not push the window: the first use leaves it 60 s after it was taken.
    clock.increment(60_000 - 5000 - 1);
    expect(limit.take('c-05971'), 'the first use is still 1 ms inside').to.equal(false);
    clock.increment(1);
    expect(limit.take('c-05971'), 'exactly 60 s after the first use').to.equal(true);
    expect(limit.take('c-05971'), 'the second use is still inside').to.equal(false);
  });

  it('slides: each use frees its place exactly one window later', () => {
    const clock = new FakeClock(0);
    const limit = new RateLimit({ limit: 2, windowMs: 10_000, clock });
    expect(limit.take('k')).to.equal(true); // t = 0
    clock.increment(4000);
    expect(limit.take('k')).to.equal(true); // t = 4 s
    expect(limit.take('k')).to.equal(false);
    clock.increment(6000); // t = 10 s: the first has left
    expect(limit.take('k')).to.equal(true);
    expect(limit.take('k')).to.equal(false);
    clock.increment(3999); // t = 13.999 s: the second (4 s) is still in
    expect(limit.take('k')).to.equal(false);
    clock.increment(1);
    expect(limit.take('k')).to.equal(true);
  });

  it('keeps keys apart', () => {
    const clock = new FakeClock(0);
    const limit = new RateLimit({ limit: 1, windowMs: 60_000, clock });
    expect(limit.take('c-05971')).to.equal(true);
    expect(limit.take('c-05971')).to.equal(false);
    expect(limit.take('secretary:c-05971')).to.equal(true);
    expect(limit.take('c-06010')).to.equal(true);
  });
});
