import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { launchChromium, openWindow, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { waitLive } from '../helpers/hall-page.ts';
import { LETTER, PAGE_COLOURS, testPaper } from '../helpers/pdf-corpus.ts';

const COMMUNE = 'c-06010'; // Xã Cao Minh, which presents a paper
const DISPLAYS = ['p-20', 'd-178', 'c-05971'];

/** The text of the upload message under the commune's slot on the operator panel. */
const slotMessage = (page: Page) => page.evaluate(() => document.querySelector('.paper-slot .paper-msg')?.textContent ?? '');

/** Chooses a file in the panel's slot and sends it; waits for the answer and returns it. */
async function send(page: Page, file: string): Promise<string> {
  await page.evaluate(() => {
    const msg = document.querySelector('.paper-slot .paper-msg');
    if (msg) msg.textContent = '';
  });
  const input = await page.waitForSelector('.paper-slot input.paper-file');
  await input!.uploadFile(file);
  await page.click('.paper-slot button.paper-upload');
  return waitFor('the upload answer', async () => {
    const text = await slotMessage(page);
    return text && !text.startsWith('Đang gửi') ? text : undefined;
  }, 30_000);
}

/** The colour at the middle of the painted page on a display, and the page it says it painted. */
function paintedPixel(page: Page): Promise<{ page: string | null; rgb: number[] | null }> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('#content canvas');
    if (!canvas) return { page: null, rgb: null };
    // Below the middle: the page's "Trang N" text is white across the middle.
    const data = canvas.getContext('2d')!.getImageData(Math.floor(canvas.width / 2), Math.floor(canvas.height * 0.7), 1, 1).data;
    return { page: canvas.dataset.page ?? null, rgb: [data[0]!, data[1]!, data[2]!] };
  });
}

const near = (a: number[], b: readonly number[]) => a.length === 3 && a.every((v, i) => Math.abs(v - b[i]!) <= 12);

describe('e2e: a paper from the operator panel to every hall display (Chromium, PDF.js)', function () {
  this.timeout(240_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  let dir: string;
  const log: string[] = [];
  let panel: Page;
  let chair: Page;
  const displays = new Map<string, Page>();

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-papers-e2e-'));
    fs.writeFileSync(path.join(dir, 'tham-luan-4-trang.pdf'), await testPaper(4));
    fs.writeFileSync(path.join(dir, 'tham-luan-5-trang.pdf'), await testPaper(5));
    fs.writeFileSync(path.join(dir, 'tham-luan-letter.pdf'), await testPaper(2, LETTER));
    fs.writeFileSync(path.join(dir, 'bao-cao.pdf'), 'Báo cáo kết quả hoạt động năm 2021 (bản Word, đổi tên thành .pdf)\n'.repeat(40));
    server = await startTestServer(2);
    chromium = await launchChromium();
    for (const id of DISPLAYS) displays.set(id, await openWindow(chromium, await inviteUrl(server, id), log, { width: 1280, height: 720 }));
    panel = await openWindow(chromium, await inviteUrl(server, COMMUNE, 'operator.html'), log, { width: 1366, height: 900 });
    chair = await openWindow(chromium, await inviteUrl(server, 'chair', 'chair.html'), log, { width: 1600, height: 1000 });
    for (const [id, page] of displays) await waitLive(page, id);
  });

  after(async () => {
    await chromium?.close();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && log.length) console.log(log.slice(-30).join('\n'));
  });

  it('the operator panel sends a 4-page A4 paper: accepted; 5 pages, Letter and a non-PDF are refused with their reasons', async () => {
    await panel.waitForSelector('#paper-card:not([hidden]) .paper-slot input.paper-file');
    expect(await send(panel, path.join(dir, 'tham-luan-4-trang.pdf'))).to.match(/^Đã nhận: 4 trang/);
    await waitFor('the panel shows the version', async () => ((await panel.$eval('.paper-slot .paper-version', (e) => e.textContent)) ?? '').includes('Bản 1: 4 trang'));
    expect(await send(panel, path.join(dir, 'tham-luan-5-trang.pdf'))).to.equal('Không nhận: Tham luận có 5 trang, vượt quá 4 trang A4');
    expect(await send(panel, path.join(dir, 'tham-luan-letter.pdf'))).to.equal('Không nhận: Khổ giấy Letter, không phải A4');
    expect(await send(panel, path.join(dir, 'bao-cao.pdf'))).to.equal('Không nhận: Tệp không phải PDF');
    expect(server.conference.runner.state.papers!['tham-luan-cap-xa.c-06010']).to.have.length(1);
    // The secretary's board on the chair console shows it received, with pages and sender.
    const row = await waitFor('the chair console lists the paper', async () => {
      const text = await chair.$eval('li.paper-row[data-slot="tham-luan-cap-xa.c-06010"]', (e) => e.textContent).catch(() => '');
      return text && text.includes('4 trang') ? text : undefined;
    });
    expect(row).to.contain('Nộp muộn').and.contain('Điểm cầu Xã Cao Minh');
  });

  it('the chair grants the floor to the commune; its operator shows page 2; three hall displays paint page 2', async () => {
    await chair.click('#start-meeting');
    await waitFor('meeting running', async () => server.conference.runner.state.status === 'running');
    await panel.type('#speaker-name', 'Hoàng Thị Mai');
    await panel.type('#speaker-title', 'Phó Chủ tịch HĐND xã Cao Minh');
    await panel.click('#request');
    const grant = await chair.waitForSelector('li.request[data-bridge="c-06010"] button.grant', { timeout: 20_000 });
    await grant!.click();
    await waitFor('the commune holds the floor', async () => server.conference.runner.state.floor?.bridgeId === COMMUNE);

    const show = await panel.waitForSelector('#paper-show:not([hidden]):not([disabled])', { timeout: 20_000 });
    await show!.click();
    await waitFor('page 1 on screen', async () => server.conference.runner.state.content?.page === 1);
    for (const [id, page] of displays) {
      await waitFor(`${id} paints page 1`, async () => near((await paintedPixel(page)).rgb ?? [], PAGE_COLOURS[0]!), 30_000);
    }
    const next = await panel.waitForSelector('#paper-next:not([hidden]):not([disabled])');
    await next!.click();
    await waitFor('page 2 on screen', async () => server.conference.runner.state.content?.page === 2);
    for (const [id, page] of displays) {
      const seen = await waitFor(`${id} paints page 2`, async () => {
        const p = await paintedPixel(page);
        return p.page === '2' ? p : undefined;
      }, 30_000).catch(async (e) => {
        console.log(await page.evaluate(() => JSON.stringify({ view: (window as any).diemcau.control.view?.content, painted: (window as any).diemcau.content.painted, html: document.getElementById('content')!.outerHTML.slice(0, 300) })));
        throw e;
      });
      // The pixels are page 2's green, not page 1's red: the canvas really holds page 2.
      expect(near(seen.rgb!, PAGE_COLOURS[1]!), `${id}: ${seen.rgb}`).to.equal(true);
      const caption = await page.$eval('#content-caption', (e) => e.textContent);
      expect(caption).to.equal('Tham luận — Xã Cao Minh · Trang 2/4');
      // The speaker's picture stays beside it.
      expect(await page.$eval('#program', (e) => getComputedStyle(e).display !== 'none' && (e as HTMLVideoElement).getBoundingClientRect().width > 200)).to.equal(true);
    }
    if (process.env.DIEMCAU_SCREENSHOTS) await displays.get('d-178')!.screenshot({ path: path.join(process.env.DIEMCAU_SCREENSHOTS, 'hall-with-paper.png') });
    // Another hall cannot turn the pages.
    const other = await displays.get('d-178')!.evaluate(() => (window as any).diemcau.control.command({ type: 'content_page', page: 3 }));
    expect(other.error.code).to.equal('forbidden');
  });

  it('when the commune yields, its paper comes down on every display; the report says it was shown during its speech', async () => {
    await panel.click('#yield');
    for (const [id, page] of displays) {
      await waitFor(`${id} takes the paper down`, async () => page.$eval('#content', (e) => (e as HTMLElement).hidden));
    }
    const report = server.conference.runner.report();
    const row = report.papers.find((p) => p.slotId === 'tham-luan-cap-xa.c-06010')!;
    expect(row.pagesShown).to.deep.equal([1, 2]);
    expect(row.shownDuringSpeeches).to.deep.equal([1]);
    expect(report.speakers[0]!.bridgeId).to.equal(COMMUNE);
  });
});
