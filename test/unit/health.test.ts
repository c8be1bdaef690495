// Link health: a hall that never connected is absent ("Chưa kết nối"), not dropped; the status has
// hysteresis, so a link flapping every sample raises one alert, not one every 2 s. The monitor
// runs on a fake clock with a media session that has no counters (the hall's browser reports
// drive the samples).
import { expect } from 'chai';
import { FakeClock } from '../../server/core/conference/index.ts';
import { assess, HealthBook, type HealthAlert, type LinkSample } from '../../server/core/health.ts';
import { HealthMonitor } from '../../server/app/HealthMonitor.ts';

const GOOD = { rttMs: 40, jitterMs: 5, lossDownPct: 0 };
const POOR = { rttMs: 40, jitterMs: 5, lossDownPct: 4 }; // degraded: loss at 2 % or more

describe('link health', () => {
  it('a hall that never connected is absent, one that connected and left is offline', () => {
    expect(assess({ at: 0, online: false, joined: false })).to.deep.equal({ status: 'absent', reasons: ['chưa kết nối'] });
    expect(assess({ at: 0, online: false, joined: true })).to.deep.equal({ status: 'offline', reasons: ['mất kết nối'] });
    expect(assess({ at: 0, online: false }).status, 'unknown history counts as joined').to.equal('offline');
  });

  it('one poor sample raises no alert; two of five do; recovering takes four clean samples', () => {
    const book = new HealthBook();
    const alerts: HealthAlert[] = [];
    let at = 0;
    const rec = (s: Partial<LinkSample>): void => {
      at += 2000;
      const a = book.record('c-1', { at, online: true, ...s });
      if (a) alerts.push(a);
    };
    rec(GOOD);
    rec(POOR);
    for (let i = 0; i < 4; i++) rec(GOOD);
    expect(book.get('c-1')!.status).to.equal('ok');
    expect(alerts.map((a) => a.to)).to.deep.equal(['ok']);
    rec(POOR);
    expect(book.get('c-1')!.status, 'one poor sample').to.equal('ok');
    rec(POOR);
    expect(book.get('c-1')!.status, 'second poor sample of five').to.equal('degraded');
    expect(book.get('c-1')!.reasons).to.deep.equal(['mất gói 4% chiều xuống']);
    for (let i = 0; i < 3; i++) rec(GOOD);
    expect(book.get('c-1')!.status, 'three clean samples').to.equal('degraded');
    rec(GOOD);
    expect(book.get('c-1')!.status).to.equal('ok');
    expect(alerts.map((a) => `${a.from}>${a.to}`)).to.deep.equal(['null>ok', 'ok>degraded', 'degraded>ok']);
  });

  it('the monitor on a fake clock: a hall flapping every 2 s for two minutes raises one alert; absent halls are not dropped ones', async () => {
    const clock = new FakeClock(1_000_000);
    const online = new Set<string>(['c-1']);
    const joined = new Set<string>(['c-1', 'c-2']);
    const monitor = new HealthMonitor({
      bridgeIds: ['c-1', 'c-2', 'c-3'],
      links: () => ({ linkCounters: async () => null }),
      online: (id) => online.has(id),
      joined: (id) => joined.has(id),
      clock,
      intervalMs: 2000,
    });
    const alerts: HealthAlert[] = [];
    monitor.on('alert', (a) => alerts.push(a));
    monitor.start();
    const step = async (report: typeof GOOD): Promise<void> => {
      monitor.reportFromClient('c-1', report);
      clock.increment(2000);
      await new Promise((r) => setImmediate(r)); // the sampling awaits the (fake) media's counters
    };
    await step(GOOD);
    expect(monitor.book.get('c-2')!.status, 'joined before, gone now').to.equal('offline');
    expect(monitor.book.get('c-3')!.status, 'never joined').to.equal('absent');
    for (let i = 0; i < 60; i++) await step(i % 2 ? POOR : GOOD);
    const changes = alerts.filter((a) => a.bridgeId === 'c-1').map((a) => `${a.from}>${a.to}`);
    expect(changes, 'one alert for a minute of flapping, not one every 2 s').to.deep.equal(['null>ok', 'ok>degraded']);
    for (let i = 0; i < 5; i++) await step(GOOD);
    expect(alerts.filter((a) => a.bridgeId === 'c-1').map((a) => a.to)).to.deep.equal(['ok', 'degraded', 'ok']);
    // The absent hall connects: it joins, with no "dropped" in between.
    online.add('c-3');
    joined.add('c-3');
    await step(GOOD);
    expect(alerts.filter((a) => a.bridgeId === 'c-3').map((a) => `${a.from}>${a.to}`)).to.deep.equal(['null>absent', 'absent>ok']);
    monitor.close();
    expect(clock.pending).to.equal(0);
  });
});
