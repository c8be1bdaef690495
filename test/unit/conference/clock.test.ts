import { expect } from 'chai';
import { FakeClock, sleep, SystemClock, WakeAlarm } from '../../../server/core/conference/index.ts';

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

  it('FakeClock repeats an interval at each period, interleaved with timeouts, until cleared (also from inside)', () => {
    const clock = new FakeClock(0);
    const fired: [string, number][] = [];
    const every = clock.setInterval(() => fired.push(['tick', clock.now()]), 100);
    clock.setTimeout(() => fired.push(['once', clock.now()]), 150);
    clock.increment(350);
    expect(fired).to.deep.equal([
      ['tick', 100],
      ['once', 150],
      ['tick', 200],
      ['tick', 300],
    ]);
    expect(clock.pending).to.equal(1);
    clock.clearInterval(every);
    clock.increment(1000);
    expect(fired).to.have.length(4);
    expect(clock.pending).to.equal(0);

    let n = 0;
    const self = clock.setInterval(() => {
      if (++n === 3) clock.clearInterval(self);
    }, 10);
    clock.increment(1000);
    expect(n).to.equal(3);
    expect(clock.pending).to.equal(0);
    // A zero period is one millisecond, not a loop that never ends.
    let zero = 0;
    const z = clock.setInterval(() => zero++, 0);
    clock.increment(5);
    clock.clearInterval(z);
    expect(zero).to.equal(5);
  });

  it('sleep resolves when the clock passes it', async () => {
    const clock = new FakeClock(0);
    let woke = false;
    const done = sleep(clock, 500).then(() => (woke = true));
    clock.increment(499);
    await Promise.resolve();
    expect(woke).to.equal(false);
    clock.increment(1);
    await done;
    expect(woke).to.equal(true);
  });

  it('SystemClock repeats an interval until cleared; a background timer does not hold the process', async () => {
    const clock = new SystemClock();
    const times: number[] = [];
    const t = clock.setInterval(() => times.push(clock.now()), 10);
    await new Promise((r) => setTimeout(r, 75));
    clock.clearInterval(t);
    const count = times.length;
    expect(count).to.be.at.least(3);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).to.be.at.least(8);
    await new Promise((r) => setTimeout(r, 40));
    expect(times.length).to.equal(count);
    // unref'd: a child process with only a background interval exits at once.
    const { spawnSync } = await import('node:child_process');
    const script = `import { SystemClock } from './server/core/conference/clock.ts'; const c = new SystemClock(); c.setInterval(() => {}, 10_000, { background: true }); c.setTimeout(() => {}, 10_000, { background: true });`;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 15_000 });
    expect(child.status, String(child.stderr)).to.equal(0);
    expect(Date.now() - started).to.be.below(9000);
    await sleep(clock, 5);
  });
});
