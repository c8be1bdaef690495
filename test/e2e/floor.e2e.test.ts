import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageState, pageVideo, waitLive } from '../helpers/hall-page.ts';

const PROVINCE = 'p-20';
const DISTRICT = 'd-178';
const COMMUNE = 'c-06010'; // Xã Cao Minh

/** Shifts the page's wall clock (Date.now, which the apps use) by skewMs before any script runs: a hall PC with a wrong clock. */
async function skewClock(page: Page, skewMs: number): Promise<void> {
  await page.evaluateOnNewDocument((skew: number) => {
    const realNow = Date.now.bind(Date);
    Date.now = () => realNow() + skew;
  }, skewMs);
}

/** Sends a control command from a page, through its own socket and token. */
async function command(page: Page, cmd: Record<string, unknown>): Promise<{ ok: boolean; error?: { code: string } }> {
  return page.evaluate((c) => (window as any).diemcau.control.command(c), cmd);
}

describe('e2e: the floor drives the programme; every display agrees on the countdown (Chromium)', function () {
  this.timeout(180_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  const log: string[] = [];
  const pages = new Map<string, Page>();

  before(async () => {
    server = await startTestServer(2);
    chromium = await launchChromium();
    const skews: Record<string, number> = { [PROVINCE]: 0, [DISTRICT]: -3000, [COMMUNE]: 7000 };
    for (const bridgeId of [PROVINCE, DISTRICT, COMMUNE]) {
      const page = await chromium.browser.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') log.push(`[${bridgeId}] ${m.text()}`);
      });
      await skewClock(page, skews[bridgeId]!);
      await page.setViewport({ width: 1280, height: 720 });
      await page.goto(await inviteUrl(server, bridgeId));
      pages.set(bridgeId, page);
    }
    pages.set('chair', await openPage(chromium.browser, await inviteUrl(server, 'chair', 'monitor.html'), log));
    for (const [id, page] of pages) if (id !== 'chair') await waitLive(page, id);
  });

  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && log.length) console.log(log.slice(-30).join('\n'));
  });

  it('roll-call: the three halls are online and the commune reports ready with its headcount', async () => {
    const commune = pages.get(COMMUNE)!;
    const reply = await command(commune, { type: 'report_ready', bridgeId: COMMUNE, attendees: 27 });
    expect(reply.ok).to.equal(true);
    const view = await waitFor('chair view with the roll-call', async () => {
      const v = await pages.get('chair')!.evaluate(() => (window as any).diemcau.control.view);
      return v && v.presence?.[COMMUNE]?.ready ? v : undefined;
    });
    expect(view.presence[COMMUNE]).to.deep.equal({ online: true, ready: true, attendees: 27 });
    expect(view.rollCall.province.online).to.equal(1);
    expect(view.rollCall.districts.online).to.equal(1);
    expect(view.rollCall.communes.online).to.equal(1);
  });

  it('a commune requests the floor, the chair grants it, and every hall shows it with its maket, name and countdown', async () => {
    const chair = pages.get('chair')!;
    expect((await command(chair, { type: 'start_meeting' })).ok).to.equal(true);
    const req = await command(pages.get(COMMUNE)!, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch HĐND xã Cao Minh', topic: 'Kinh nghiệm tổ chức thực hiện nghị quyết' });
    expect(req.ok).to.equal(true);
    // An operator cannot grant, nor ask for another hall.
    expect((await command(pages.get(DISTRICT)!, { type: 'grant_next' })).error?.code).to.equal('forbidden');
    expect((await command(pages.get(DISTRICT)!, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'X', speakerTitle: 'Y' })).error?.code).to.equal('forbidden');
    expect((await command(chair, { type: 'grant_next' })).ok).to.equal(true);

    expect(await waitFor('media programme on the commune', async () => server.media.onAir === COMMUNE)).to.equal(true);
    for (const id of [PROVINCE, DISTRICT]) {
      const page = pages.get(id)!;
      await waitFor(`${id} decodes the commune`, async () => {
        const v = (await pageVideo(page)).find((x) => x.slot === 'onair' && x.bridgeId === COMMUNE && x.kind === 'video');
        return v && v.framesDecoded > 3;
      }, 30_000);
      const seen = await waitFor(`${id} lower third and countdown`, async () => {
        const s = await page.evaluate(() => ({
          name: document.getElementById('speaker-name')!.textContent,
          bridge: document.getElementById('speaker-bridge')!.textContent,
          lowerThirdHidden: document.getElementById('lower-third')!.hidden,
          countdown: document.getElementById('countdown')!.textContent,
          countdownHidden: document.getElementById('countdown')!.hidden,
        }));
        return !s.lowerThirdHidden && !s.countdownHidden ? s : undefined;
      });
      expect(seen.name).to.equal('Hoàng Thị Mai');
      expect(seen.bridge).to.equal('Điểm cầu xã Cao Minh');
      expect(seen.countdown).to.match(/^(10:00|9:[45]\d)$/);
    }
    // The maket of the district's own hall, red with yellow text, over the video.
    const maket = await pages.get(DISTRICT)!.evaluate(() => {
      const el = document.getElementById('maket')!;
      const style = getComputedStyle(el);
      return { text: el.innerText, bg: style.backgroundColor, fg: style.color, hidden: el.hidden };
    });
    expect(maket.hidden).to.equal(false);
    expect(maket.text).to.contain('THƯỜNG TRỰC HĐND THÀNH PHỐ LẠNG SƠN');
    expect(maket.text).to.contain('HỘI NGHỊ TRỰC TUYẾN');
    expect(maket.bg).to.equal('rgb(192, 0, 0)');
    expect(maket.fg).to.equal('rgb(255, 222, 0)');
    expect((await pageState(pages.get(COMMUNE)!)).micOpen).to.equal(true);
  });

  it('countdowns agree within 100 ms on halls whose clocks are 3 s slow and 7 s fast', async () => {
    // Each page's idea of the deadline on the real timeline: remaining (on its server clock estimate) + real now.
    const samples = await Promise.all(
      [PROVINCE, DISTRICT, COMMUNE].map((id) =>
        pages.get(id)!.evaluate(() => {
          const c = (window as any).diemcau.control;
          const real = performance.timeOrigin + performance.now();
          const remaining = c.view.floor.timer.deadline - c.serverNow();
          return { remaining, real, skew: Date.now() - real, shown: Number(document.getElementById('countdown')!.dataset.remainingMs) };
        }),
      ),
    );
    // The halls' clocks really are wrong (so the agreement comes from the clock-offset estimate).
    expect(samples.map((s) => Math.round(s.skew / 1000) + 0)).to.deep.equal([0, -3, 7]);
    const deadlines = samples.map((s) => s.remaining + s.real);
    const spread = Math.max(...deadlines) - Math.min(...deadlines);
    expect(spread, `deadline estimates ${deadlines.map((d) => d.toFixed(0)).join(', ')}`).to.be.lessThan(100);
    // What is shown is the same countdown (within its 200 ms refresh).
    const shown = samples.map((s) => s.shown + s.real);
    expect(Math.max(...shown) - Math.min(...shown)).to.be.lessThan(100 + 400);
  });

  it('the chair revokes: the programme returns to the chair and the commune microphone closes', async () => {
    expect((await command(pages.get('chair')!, { type: 'revoke_floor' })).ok).to.equal(true);
    await waitFor('programme back to the province', async () => server.media.onAir === PROVINCE);
    await waitFor('commune mic closed', async () => !(await pageState(pages.get(COMMUNE)!)).micOpen);
    const report = await server.media.micReport();
    expect(report.find((r) => r.bridgeId === COMMUNE)?.open).to.equal(false);
    await waitFor('district decodes the province again', async () => {
      const v = (await pageVideo(pages.get(DISTRICT)!)).find((x) => x.slot === 'onair' && x.bridgeId === PROVINCE && x.kind === 'video');
      return v && v.framesDecoded > 3;
    }, 30_000);
  });

  it('a break shows the "Giải lao" slate in every hall', async () => {
    expect((await command(pages.get('chair')!, { type: 'break_start' })).ok).to.equal(true);
    for (const id of [PROVINCE, DISTRICT, COMMUNE]) {
      const text = await waitFor(`${id} break slate`, async () => {
        const s = await pages.get(id)!.evaluate(() => ({ hidden: document.getElementById('slate')!.hidden, text: document.getElementById('slate-text')!.textContent }));
        return !s.hidden && s.text === 'Giải lao' ? s.text : undefined;
      });
      expect(text).to.equal('Giải lao');
    }
    await pages.get(PROVINCE)!.screenshot({ path: 'artifacts/e2e-break-province.png' }).catch(() => undefined);
  });
});
