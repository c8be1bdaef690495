import { expect } from 'chai';
import { FakeClock, SystemClock, WakeAlarm } from '../../../server/core/conference/index.ts';

describe('Clock', () => {
  it('FakeClock fires due timers in order, each at its own instant, including ones armed while firing', () => {
    const clock = new FakeClock(1000);
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 300);
    clock.setTimeout(() => {
      fired.push(['a', clock.now()]);
      clock.setTimeout(() => fired.push(['a2', clock.now()]), 50);
    }, 100);
    clock.setTimeout(() => fired.push(['c', clock.now()]), 300);
    const late = clock.setTimeout(() => fired.push(['never', clock.now()]), 10_000);
    clock.clearTimeout(late);
    clock.increment(299);
    expect(fired).to.deep.equal([
      ['a', 1100],
      ['a2', 1150],
    ]);
    expect(clock.now()).to.equal(1299);
    clock.increment(1);
    expect(fired.slice(2)).to.deep.equal([
      ['b', 1300],
      ['c', 1300],
    ]);
    clock.increment(60_000);
    expect(fired).to.have.length(4);
    expect(clock.pending).to.equal(0);
  });

  it('WakeAlarm keeps a single armed timer; a new instant replaces the old; close disarms for good', () => {
    const clock = new FakeClock(0);
    const wakes: number[] = [];
    const alarm = new WakeAlarm(clock, (now) => wakes.push(now));
    alarm.set(500);
    alarm.set(200);
    expect(clock.pending).to.equal(1);
    expect(alarm.at).to.equal(200);
    clock.increment(1000);
    expect(wakes).to.deep.equal([200]);
    expect(alarm.at).to.equal(null);
    alarm.set(900); // in the past: fires at once
    clock.increment(0);
    expect(wakes).to.deep.equal([200, 1000]);
    alarm.set(5000);
    alarm.close();
    alarm.set(6000);
    clock.increment(10_000);
    expect(wakes).to.have.length(2);
    expect(clock.pending).to.equal(0);
  });

  it('SystemClock uses wall time and real timers', async () => {
    const clock = new SystemClock();
    const before = Date.now();
    expect(clock.now()).to.be.within(before, before + 50);
    const fired = await new Promise<number>((resolve) => clock.setTimeout(() => resolve(clock.now()), 20));
    expect(fired - before).to.be.at.least(19);
    let cancelled = true;
    const t = clock.setTimeout(() => (cancelled = false), 5);
    clock.clearTimeout(t);
    await new Promise((r) => setTimeout(r, 20));
    expect(cancelled).to.equal(true);
  });
});
