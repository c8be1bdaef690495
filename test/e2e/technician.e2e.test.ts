import fs from 'node:fs';
import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageState } from '../helpers/hall-page.ts';
import { startUdpRelay, type UdpRelay } from '../helpers/udp-relay.ts';

const PROVINCE = 'p-20';
const DISTRICT = 'd-178'; // Thành phố Lạng Sơn
const COMMUNE = 'c-06010'; // Xã Cao Minh, Huyện Tràng Định: its link goes through the impairing relay
const COMMUNE_DISTRICT = 'd-180'; // Huyện Tràng Định
const HALLS = [PROVINCE, DISTRICT, COMMUNE];
const ARTIFACTS = 'artifacts';
const GREEN = 'rgb(31, 122, 58)';
const GREY = 'rgb(61, 67, 76)';
/** A hall that never joined: dimmer than one that dropped (--unknown). */
const DIM = 'rgb(38, 42, 49)';

/** What the dashboard shows for a bridge's tile. */
interface TileSeen {
  status: string;
  label: string;
  reason: string;
  background: string;
  hidden: boolean;
}

function tile(page: Page, bridgeId: string): Promise<TileSeen> {
  return page.$eval(`.tile[data-bridge-id="${bridgeId}"]`, (el) => ({
    status: (el as HTMLElement).dataset.status ?? '',
    label: (el.querySelector('.t-status') as HTMLElement).innerText.trim(),
    reason: (el.querySelector('.t-reason') as HTMLElement).innerText.trim(),
    background: getComputedStyle(el).backgroundColor,
    hidden: (el as HTMLElement).getBoundingClientRect().height === 0,
  }));
}

/** Tiles by what they show: how many are in each status, and how many are visible. */
function tileCounts(page: Page): Promise<{ total: number; visible: number; byStatus: Record<string, number>; visibleOk: number }> {
  return page.$$eval('.tile', (els) => {
    const byStatus: Record<string, number> = {};
    let visible = 0;
    let visibleOk = 0;
    for (const el of els as HTMLElement[]) {
      const s = el.dataset.status ?? '';
      byStatus[s] = (byStatus[s] ?? 0) + 1;
      if (el.getBoundingClientRect().height > 0) {
        visible++;
        if (s === 'ok') visibleOk++;
      }
    }
    return { total: els.length, visible, byStatus, visibleOk };
  });
}

const text = (page: Page, selector: string): Promise<string> => page.$eval(selector, (el) => (el as HTMLElement).innerText.trim());

describe('e2e: the technicians\' dashboard follows the 212 links (one hall behind an impairing UDP relay, Chromium)', function () {
  this.timeout(240_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  let relay: UdpRelay;
  let dash: Page;
  const log: string[] = [];
  const halls = new Map<string, Page>();
  const routes = new Map<string, { ip: string; port: number }>();

  const shot = async (name: string): Promise<void> => {
    await dash.screenshot({ path: `${ARTIFACTS}/technician-${name}.png` }).catch(() => undefined);
  };

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = await startTestServer(1, {}, { routes, healthIntervalMs: 1000 });
    const dump = (await server.pool.slot(0).webRtcServer.dump()) as unknown as { udpSockets: { port: number }[] };
    relay = await startUdpRelay({ host: '127.0.0.1', port: dump.udpSockets[0]!.port });
    routes.set(COMMUNE, { ip: '127.0.0.1', port: relay.port });
    chromium = await launchChromium();
    for (const bridgeId of HALLS) halls.set(bridgeId, await openPage(chromium.browser, await inviteUrl(server, bridgeId), log));
    for (const [id, page] of halls) {
      await waitFor(`${id} live`, async () => {
        const s = await pageState(page);
        return s.state === 'live' && s.publishing.cam;
      }, 40_000);
    }
    dash = await openPage(chromium.browser, await inviteUrl(server, 'technician', 'technician.html'), log);
    await dash.setViewport({ width: 1600, height: 1000 });
  });

  after(async () => {
    await chromium?.close();
    await relay?.close();
    await server?.close();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(log.slice(-30).join('\n'));
      for (const id of HALLS) console.log(id, JSON.stringify(server.conference.health.book.get(id)?.last));
      await shot(`failed-${(this.currentTest.title.match(/\w+/g) ?? ['x']).slice(0, 4).join('-')}`);
    }
  });

  it('shows the 212 bridges as tiles by district: the 3 halls online green "Tốt", the other 209 dim "Chưa kết nối" (never joined, not dropped); the halls\' browsers report', async () => {
    const counts = await waitFor('3 ok and 209 absent tiles', async () => {
      const c = await tileCounts(dash);
      return c.byStatus.ok === 3 && c.byStatus.absent === 209 ? c : undefined;
    }, 30_000, 250);
    expect(counts.total).to.equal(212);
    for (const id of HALLS) {
      const t = await tile(dash, id);
      expect(t.label).to.equal('Tốt');
      expect(t.background).to.equal(GREEN);
    }
    const off = await tile(dash, 'c-05971');
    expect(off.label).to.equal('Chưa kết nối');
    expect(off.background).to.equal(DIM);
    expect(await text(dash, '#counts')).to.match(/Tốt\s*3\s+Suy giảm\s*0\s+Kém\s*0\s+Mất kết nối\s*0\s+Chưa kết nối\s*209/);
    // Grouped: the province first, then each district's own hall followed by its communes.
    const groups = await dash.$$eval('.group', (els) => els.map((g) => ({ head: (g.querySelector('.g-name') as HTMLElement).innerText, first: (g.querySelector('.tile') as HTMLElement).dataset.bridgeId, n: g.querySelectorAll('.tile').length })));
    expect(groups).to.have.length(12);
    expect(groups[0]).to.deep.include({ first: PROVINCE, n: 1 });
    expect(groups[1]).to.deep.include({ first: DISTRICT, head: 'Thành phố Lạng Sơn', n: 9 });
    expect(groups.find((g) => g.first === COMMUNE_DISTRICT)).to.deep.include({ head: 'Huyện Tràng Định', n: 23 });
    expect(server.conference.plan.bridges.find((b) => b.id === COMMUNE)?.parentId).to.equal(COMMUNE_DISTRICT);
    // The halls' own measures reached the server (the reporter runs in their pages).
    await waitFor('client reports', async () => HALLS.every((id) => typeof server.conference.health.book.get(id)?.last?.fpsSent === 'number'), 15_000, 250);
    // Tiles are updated in place: a node marked now is still the same node several summaries later.
    await dash.$eval(`.tile[data-bridge-id="${PROVINCE}"]`, (el) => ((el as HTMLElement & { probe?: number }).probe = 1));
    await shot('1-clean');
  });

  it('the impaired hall turns amber or red within seconds with "mất gói" on its tile, an alert appears, the others stay green', async () => {
    // The clean relay keeps the commune ok (a few summaries in a row) before it is impaired.
    let okInARow = 0;
    await waitFor('commune steadily ok', async () => ((await tile(dash, COMMUNE)).status === 'ok' ? ++okInARow >= 4 : (okInARow = 0) > 0), 20_000, 1000);
    expect(relay.counts.forwarded).to.be.greaterThan(100);
    const started = Date.now();
    relay.impair({ loss: 0.2, delayMs: 150 });
    const seen = await waitFor('commune tile degraded with loss named', async () => {
      const t = await tile(dash, COMMUNE);
      return (t.status === 'degraded' || t.status === 'bad') && t.reason.includes('mất gói') ? t : undefined;
    }, 25_000, 250);
    const took = Date.now() - started;
    console.log(`      tile ${seen.label} after ${took} ms: ${seen.reason}`);
    expect(took).to.be.lessThan(20_000);
    expect(['Suy giảm', 'Kém']).to.include(seen.label);
    expect(seen.background).to.be.oneOf(['rgb(227, 163, 0)', 'rgb(198, 40, 40)']);
    const alert = await waitFor('alert in the feed', async () => {
      const items = await dash.$$eval(`#alert-feed li[data-bridge-id="${COMMUNE}"]`, (els) => els.map((e) => (e as HTMLElement).innerText.replace(/\s+/g, ' ')));
      return items.find((i) => /Tốt → (Suy giảm|Kém)/.test(i));
    }, 10_000, 250);
    expect(alert).to.match(/^\d\d:\d\d:\d\d Xã Cao Minh Tốt → (Suy giảm|Kém)/);
    // The alert names the first symptom: loss, round trip, or the jitter of the delay queue.
    expect(alert).to.match(/mất gói|độ trễ|dao động trễ/);
    // The clean halls never lose packets. (On a machine busy with other Chromium tests their jitter may
    // touch the threshold for a sample; that is the CPU, not the link, and not what this test is about.)
    for (const id of [PROVINCE, DISTRICT]) await waitFor(`${id} green`, async () => (await tile(dash, id)).label === 'Tốt', 10_000, 250);
    const others = await dash.$$eval(`#alert-feed li[data-bridge-id="${PROVINCE}"], #alert-feed li[data-bridge-id="${DISTRICT}"]`, (els) => els.map((e) => (e as HTMLElement).innerText));
    if (others.length) console.log(`      alerts of the clean halls: ${others.map((o) => o.replace(/\s+/g, ' ')).join(' | ')}`);
    expect(others.filter((o) => o.includes('mất gói'))).to.deep.equal([]);
    expect(await dash.$eval(`.tile[data-bridge-id="${PROVINCE}"]`, (el) => (el as HTMLElement & { probe?: number }).probe)).to.equal(1);
    await shot('2-impaired');
  });

  it('"chỉ hiện điểm cầu có vấn đề" hides the green tiles; the search finds a hall by name without diacritics', async () => {
    await dash.click('#problems-only');
    const c = await tileCounts(dash);
    expect(c.visibleOk).to.equal(0);
    expect(c.visible).to.equal(210); // the impaired commune and the 209 that never joined
    expect((await tile(dash, COMMUNE)).hidden).to.equal(false);
    expect((await tile(dash, PROVINCE)).hidden).to.equal(true);
    await dash.click('#problems-only');
    await dash.type('#search', 'cao minh');
    expect((await tileCounts(dash)).visible).to.equal(1);
    await dash.$eval('#search', (el) => {
      (el as HTMLInputElement).value = '';
      el.dispatchEvent(new Event('input'));
    });
    expect((await tileCounts(dash)).visible).to.equal(212);
    await dash.select('#sort', 'severity');
    const first = await dash.$eval('.board .group:nth-of-type(2) .tile', (el) => (el as HTMLElement).dataset.bridgeId);
    expect(first).to.equal(COMMUNE_DISTRICT); // the district of the impaired commune comes first after the province
    await dash.select('#sort', 'plan');
  });

  it('a click on the tile opens the drill-down: status, sparklines of round trip, loss and bitrate, and the connection events', async () => {
    await dash.click(`.tile[data-bridge-id="${COMMUNE}"]`);
    await waitFor('drill-down open', async () => (await text(dash, '#drill-name').catch(() => '')) === 'Xã Cao Minh', 10_000);
    expect(await text(dash, '#drill-where')).to.equal('Điểm cầu cấp xã — Huyện Tràng Định');
    // One server, both roles: its own media is the only node.
    await waitFor('the drill-down names the media node', async () => (await text(dash, '#drill-node')) === 'Máy chủ media: Máy chủ này', 5000);
    expect(await text(dash, '#drill-badge')).to.match(/Suy giảm|Kém/);
    const paths = await waitFor('sparklines drawn', async () => {
      const d = await dash.$$eval('#drill-sparks svg path', (els) => els.map((e) => e.getAttribute('d') ?? ''));
      // Round trip; loss up and down; bitrate up and down.
      return d.length === 5 && d.every((path) => path.length > 20) ? d : undefined;
    }, 10_000, 250);
    expect(paths[0]).to.match(/^M[\d.]+ [\d.]+L/);
    expect(await text(dash, '#drill-sparks')).to.match(/Mất gói \(%\)\s*lên ([\d,]+ \(cao nhất [\d,]+\)|—) · xuống ([\d,]+ \(cao nhất [\d,]+\)|—)$/m);
    const events = await dash.$$eval('#drill-events li', (els) => els.map((e) => (e as HTMLElement).innerText));
    expect(events.some((e) => /^\d\d:\d\d:\d\d Vào hội nghị/.test(e))).to.equal(true);
    // The hall's own measures (from its browser) are in the drill-down.
    await waitFor('video measures shown', async () => {
      const video = `${await text(dash, '[data-metric="video-sent"]')} ${await text(dash, '[data-metric="video-received"]')}`;
      return /\d+p · [\d,]+ hình\/giây/.test(video) && /^\d+ %$/.test(await text(dash, '[data-metric="audio"]'));
    }, 10_000, 250);
    await shot('3-drilldown');
  });

  it('the media nodes panel: one node, this server, carrying the three halls; no drain in a one-server deployment; the tiles do not repeat it', async () => {
    const panel = await waitFor('nodes panel', async () => {
      const rows = await dash.$$eval('#nodes li.node', (els) => els.map((e) => (e as HTMLElement).innerText.replace(/\s+/g, ' ')));
      return rows.length === 1 && rows[0]!.includes('3 điểm cầu · 3 kết nối') ? rows : undefined;
    }, 10_000, 250);
    expect(panel[0]).to.match(/^Máy chủ này Hoạt động 3 điểm cầu · 3 kết nối · \d+ luồng nhận Một máy chủ: không có đường nối$/);
    expect(await dash.$$('#nodes button')).to.have.length(0);
    expect(await dash.$$eval('.tile .t-node', (els) => els.filter((e) => !(e as HTMLElement).hidden).length)).to.equal(0);
  });

  it('the link test of a hall, run from the dashboard, comes back with its ready checklist', async () => {
    await dash.click(`.tile[data-bridge-id="${DISTRICT}"]`);
    await waitFor('drill-down of the district', async () => (await text(dash, '#drill-name').catch(() => '')) === 'Thành phố Lạng Sơn', 10_000);
    await waitFor('test button enabled', async () => dash.$eval('#drill-test', (b) => !(b as HTMLButtonElement).disabled), 5_000);
    await dash.click('#drill-test');
    expect(await text(dash, '#drill-test-state')).to.match(/Đang kiểm tra/);
    const items = await waitFor('checklist in the drill-down', async () => {
      const list = await dash.$$eval('#drill-checklist li', (els) => els.map((e) => ({ item: (e as HTMLElement).dataset.item, ok: e.classList.contains('ok'), text: (e as HTMLElement).innerText })));
      return list.length === 7 ? list : undefined;
    }, 30_000, 250);
    console.log(`      ${items.map((i) => `${i.ok ? '✓' : '✗'} ${i.text.replace(/^[✓✗]\s*/, '')}`).join(' | ')}`);
    const ok = Object.fromEntries(items.map((i) => [i.item, i.ok]));
    expect(ok).to.include({ camera: true, microphone: true, media: true, rtt: true, loss: true });
    expect(ok.ready).to.equal(false); // the hall has not reported ready at the roll-call
    expect(await text(dash, '#drill-checklist .verdict')).to.match(/^Chưa sẵn sàng — kiểm tra lúc \d\d:\d\d:\d\d$/);
    expect(await text(dash, `#tests-list li[data-bridge-id="${DISTRICT}"]`)).to.match(/Thành phố Lạng Sơn\s+Chưa sẵn sàng \(\d mục chưa đạt\)/);
    expect(await dash.$eval(`.tile[data-bridge-id="${DISTRICT}"] .t-test`, (el) => (el as HTMLElement).innerText)).to.equal('✗');
    await shot('4-link-test');
  });

  it('the test of every online hall at once gives a checklist for each of the three', async () => {
    await dash.click('#test-all');
    await waitFor('three results', async () => {
      const rows = await dash.$$eval('#tests-list > li', (els) => els.map((e) => (e as HTMLElement).dataset.state));
      return rows.length === 3 && rows.every((s) => s === 'ready' || s === 'not-ready') ? rows : undefined;
    }, 30_000, 250);
    expect(await text(dash, '#tests-summary')).to.match(/^Sẵn sàng \d · Chưa sẵn sàng \d$/);
    for (const id of HALLS) expect(await dash.$$eval(`#tests-list li[data-bridge-id="${id}"] .checklist li`, (els) => els.length)).to.equal(7);
  });

  it('when the impairment stops the tile turns green again and the feed says so', async () => {
    relay.impair({ loss: 0, delayMs: 0 });
    const t0 = Date.now();
    // As in link-health e2e: back to ok needs the commune's camera back from audio only (a trial of its browser); seen 8–17 s, once more than 30 s in a full run.
    await waitFor('commune tile ok again', async () => (await tile(dash, COMMUNE)).status === 'ok', 45_000, 250);
    console.log(`      commune tile ok again ${Date.now() - t0} ms after the impairment stopped`);
    const t = await tile(dash, COMMUNE);
    expect(t.label).to.equal('Tốt');
    expect(t.background).to.equal(GREEN);
    const back = await dash.$$eval(`#alert-feed li[data-bridge-id="${COMMUNE}"]`, (els) => (els[0] as HTMLElement).innerText.replace(/\s+/g, ' '));
    expect(back).to.match(/→ Tốt$/);
    expect(await text(dash, '#counts')).to.match(/Tốt\s*3\s+Suy giảm\s*0\s+Kém\s*0\s+Mất kết nối\s*0\s+Chưa kết nối\s*209/);
    await dash.click(`.tile[data-bridge-id="${COMMUNE}"]`);
    await waitFor('drill-down of the commune', async () => (await text(dash, '#drill-badge').catch(() => '')) === 'Tốt', 10_000);
    await shot('5-restored');
    // Responsive: each 2-second summary of the 212 bridges is applied in a few milliseconds (tiles updated in place).
    const timing = await dash.evaluate(() => (window as unknown as { diemcau: { timing: { summaries: number; maxMs: number } } }).diemcau.timing);
    console.log(`      ${timing.summaries} summaries applied, the slowest in ${timing.maxMs.toFixed(1)} ms`);
    expect(timing.summaries).to.be.greaterThan(20);
    expect(timing.maxMs).to.be.lessThan(250); // a few ms on a quiet machine
  });

  it('a hall that leaves turns grey "Mất kết nối" with the time, marked as dropped; its events say so', async () => {
    await halls.get(COMMUNE)!.close();
    halls.delete(COMMUNE);
    const t = await waitFor('commune tile offline', async () => {
      const seen = await tile(dash, COMMUNE);
      return seen.status === 'offline' ? seen : undefined;
    }, 20_000, 250);
    expect(t.label).to.equal('Mất kết nối');
    expect(t.background, 'the darker grey of a hall that dropped').to.equal(GREY);
    expect(t.reason).to.match(/^từ \d\d:\d\d$/);
    expect(await dash.$eval(`.tile[data-bridge-id="${COMMUNE}"]`, (el) => el.classList.contains('dropped'))).to.equal(true);
    expect(await dash.$eval(`#alert-feed li[data-bridge-id="${COMMUNE}"]`, (el) => (el as HTMLElement).innerText.replace(/\s+/g, ' '))).to.match(/Tốt → Mất kết nối$/);
    // The drill-down (still on the commune) reloads its events on the alert.
    await waitFor('dropped event', async () => (await dash.$$eval('#drill-events li', (els) => els.map((e) => (e as HTMLElement).innerText))).some((e) => /^\d\d:\d\d:\d\d Mất kết nối/.test(e)), 10_000, 250);
    expect(await dash.$eval('#drill-test', (b) => (b as HTMLButtonElement).disabled)).to.equal(true);
    expect(await text(dash, '#counts')).to.match(/Tốt\s*2\s+Suy giảm\s*0\s+Kém\s*0\s+Mất kết nối\s*1\s+Chưa kết nối\s*209/);
    await shot('6-dropped');
  });
});
