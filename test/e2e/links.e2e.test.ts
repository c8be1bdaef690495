// Issue 15, "Links and restarts", as the people at the screens see it (Chromium): a plain server
// process killed and started again keeps every link and the floor, and the open pages come back
// by themselves; a revoked or invalid link says so at once and stops; a second PC asks before it
// takes a hall over, and the first can take it back. Screenshots in artifacts/.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer-core';
import { io, type Socket } from 'socket.io-client';
import type { ConferenceView } from '../../server/protocol/control.ts';
import type { RunningServer } from '../../server/app/server.ts';
import { freePortBase, inviteUrl, startTestServer, tokenOf } from '../helpers/server.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageState, waitLive } from '../helpers/hall-page.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = 'artifacts';
const PROVINCE = 'p-20';
const DISTRICT = 'd-178';
const COMMUNE = 'c-06010'; // Xã Cao Minh

async function command(page: Page, cmd: Record<string, unknown>): Promise<{ ok: boolean; error?: { code: string } }> {
  return page.evaluate((c) => (window as any).diemcau.control.command(c), cmd);
}

function seen(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => (el as HTMLElement).innerText.trim()).catch(() => '');
}

async function waitText(page: Page, selector: string, expected: RegExp, label: string, timeoutMs = 20_000): Promise<string> {
  return waitFor(`${label} (${selector} ~ ${String(expected)})`, async () => {
    const text = await seen(page, selector);
    return expected.test(text) ? text : undefined;
  }, timeoutMs);
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.bringToFront();
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png` }).catch(() => undefined);
}

/** A control socket from node (a hall without a browser): its views, and commands through it. */
function controlSocket(url: string, token: string): { socket: Socket; views: ConferenceView[]; command(cmd: object): Promise<{ ok: boolean }> } {
  const socket = io(`${url}/control`, { auth: { token }, transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 500, forceNew: true });
  const views: ConferenceView[] = [];
  socket.on('control:view', (v: ConferenceView) => views.push(v));
  return { socket, views, command: (cmd) => socket.timeout(5000).emitWithAck('control:command', cmd) as Promise<{ ok: boolean }> };
}

/** Server processes of this file not yet reaped: killed by pid in the after hook, whatever happened. */
const children = new Set<ChildProcess>();

/** `node --import tsx server/main.ts` as `npm start` runs it, with no redis: the embedded default store. */
async function spawnServer(env: Record<string, string>): Promise<{ child: ChildProcess; stdout: () => string }> {
  const base = { ...process.env };
  delete base.REDIS_URL;
  delete base.DIEMCAU_STORE;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  try {
    await waitFor('server process printed its links', async () => {
      if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${err}`);
      return /Chủ tọa:\s+http\S+#token=/.test(out);
    }, 40_000);
  } catch (error) {
    await kill(child);
    throw error;
  }
  return { child, stdout: () => out };
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** The link printed for a line's label ("Chủ tọa:", "Xã Cao Minh"). */
function printedLink(stdout: string, label: string): string {
  const line = stdout.split('\n').find((l) => l.includes(label) && l.includes('#token='));
  if (!line) throw new Error(`no printed link for ${label}`);
  return line.slice(line.indexOf('http')).trim();
}

describe('e2e: links and restarts (Chromium)', function () {
  this.timeout(300_000);
  let chromium: TestBrowser;
  const log: string[] = [];

  before(async () => {
    chromium = await launchChromium();
  });
  after(async () => {
    for (const child of [...children]) await kill(child);
    await chromium?.close();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && log.length) console.log(log.slice(-30).join('\n'));
  });

  it('a plain server process (no redis) killed and started again keeps every link, the holder, the queue and the deadline; open pages come back by themselves', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-restart-'));
    const [http, rtc, pipes] = [await freePortBase(1), await freePortBase(2), await freePortBase(1)];
    const env = (webrtc: number): Record<string, string> => ({
      PORT: String(http),
      DIEMCAU_LISTEN_IP: '127.0.0.1',
      DIEMCAU_WEBRTC_PORT: String(webrtc),
      DIEMCAU_RTC_MIN_PORT: String(Math.min(pipes, 64000)),
      DIEMCAU_RTC_MAX_PORT: String(Math.min(pipes, 64000) + 500),
      DIEMCAU_WORKERS: '1',
      DIEMCAU_LOG_LEVEL: 'warn',
      DIEMCAU_DATA_DIR: dataDir,
      DIEMCAU_RECORDINGS_DIR: path.join(dataDir, 'recordings'),
    });
    const pages: Page[] = [];
    let district: ReturnType<typeof controlSocket> | undefined;
    let first: Awaited<ReturnType<typeof spawnServer>> | undefined;
    let second: Awaited<ReturnType<typeof spawnServer>> | undefined;
    try {
      first = await spawnServer(env(rtc));
      const chairUrl = printedLink(first.stdout(), 'Chủ tọa:');
      // The printed hall link opens its operator panel; its projector display is hall.html with the same token.
      const communeUrl = printedLink(first.stdout(), 'Xã Cao Minh').replace('/operator.html#', '/hall.html#');
      const districtToken = printedLink(first.stdout(), 'Thành phố Lạng Sơn').split('#token=')[1]!;
      const chair = await openPage(chromium.browser, chairUrl, log);
      const hall = await openPage(chromium.browser, communeUrl, log);
      pages.push(chair, hall);
      await chair.setViewport({ width: 1366, height: 900 });
      await hall.setViewport({ width: 1280, height: 720 });
      await waitLive(hall, COMMUNE);
      await waitFor('chair console has its view', () => chair.evaluate(() => !!(window as any).diemcau?.control?.view));
      district = controlSocket(`http://127.0.0.1:${http}`, districtToken);
      await waitFor('district connected', async () => district!.views.length > 0);
      expect((await command(chair, { type: 'start_meeting' })).ok).to.equal(true);
      expect((await command(hall, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch HĐND xã' })).ok).to.equal(true);
      expect((await district.command({ type: 'request_floor', bridgeId: DISTRICT, speakerName: 'Lê Văn Nam', speakerTitle: 'Chủ tịch HĐND thành phố' })).ok).to.equal(true);
      expect((await command(chair, { type: 'grant_next' })).ok).to.equal(true);
      await waitFor('the commune speaks, its microphone open', async () => (await pageState(hall)).micOpen);
      const before: ConferenceView = await waitFor('the chair sees the holder and the queue', () =>
        chair.evaluate(() => {
          const v = (window as any).diemcau.control.view;
          return v?.floor && v.queue.length === 1 ? v : null;
        }),
      );

      await kill(first.child);
      await waitText(chair, '#conn-state', /Mất kết nối/, 'the chair console sees the server gone');
      second = await spawnServer(env(rtc + 1));
      expect(printedLink(second.stdout(), 'Chủ tọa:'), 'the same link after the restart').to.equal(printedLink(first.stdout(), 'Chủ tọa:'));
      expect(printedLink(second.stdout(), 'Xã Cao Minh')).to.equal(printedLink(first.stdout(), 'Xã Cao Minh'));
      expect(second.stdout(), 'the start says where the conference is kept').to.contain(path.join(dataDir, 'diemcau.sqlite'));

      // The pages come back by themselves, with the same conference.
      const after: ConferenceView = await waitFor('the chair console back with a fresh view', () =>
        chair.evaluate((seq: number) => {
          const d = (window as any).diemcau;
          const v = d.control.view;
          return d.control.connected && v && v.serverNow > seq ? v : null;
        }, before.serverNow),
      30_000);
      expect(after.status).to.equal('running');
      expect(after.floor!.bridgeId).to.equal(COMMUNE);
      expect(after.floor!.requestId).to.equal(before.floor!.requestId);
      expect(after.floor!.timer.deadline, 'the same deadline, to the millisecond').to.equal(before.floor!.timer.deadline);
      expect(after.queue.map((q) => q.requestId)).to.deep.equal(before.queue.map((q) => q.requestId));
      await waitLive(hall, `${COMMUNE} after the restart`);
      await waitFor('the holder\'s microphone open again', async () => (await pageState(hall)).micOpen, 20_000);
      await waitText(chair, '#conn-state', /^Đã kết nối$/, 'the chair console connected again', 30_000);
      expect(await seen(chair, '#floor-speaker')).to.equal('Hoàng Thị Mai');
      expect(await hall.evaluate(() => document.getElementById('refusal'))).to.equal(null);
      await shot(chair, 'links-restart-chair');
      await shot(hall, 'links-restart-hall');
      // And the meeting goes on from there.
      expect((await command(chair, { type: 'grant_next' })).ok).to.equal(true);
      await waitFor('the district speaks', () => chair.evaluate(() => (window as any).diemcau.control.view?.floor?.bridgeId === 'd-178'));
    } finally {
      district?.socket.close();
      for (const p of pages) await p.close().catch(() => undefined);
      await kill(first?.child);
      await kill(second?.child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  describe('with a server in this process', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer(1);
    });
    after(async () => {
      await server?.close();
    });

    it('a hall page whose script fails to load (the network changed mid-load) says so and loads again by itself', async () => {
      const page = await chromium.browser.newPage();
      try {
        let failed = 0;
        await page.setRequestInterception(true);
        page.on('request', (req) => {
          if (new URL(req.url()).pathname === '/build/hall.js' && failed === 0) {
            failed++;
            void req.abort('internetdisconnected');
          } else void req.continue();
        });
        await page.goto(await inviteUrl(server, 'd-180'), { waitUntil: 'domcontentloaded' });
        await waitText(page, '#load-error', /Không tải được trang.*tự tải lại/, 'the page says it could not load', 5000);
        await waitLive(page, 'd-180');
        expect(failed).to.equal(1);
        expect(await page.$('#load-error')).to.equal(null);
      } finally {
        await page.close();
      }
    });

    it('a hall page closed and its link opened again in a new tab goes live at once: the closed page left (no "open on another PC" question)', async () => {
      const url = await inviteUrl(server, 'd-181');
      const first = await openPage(chromium.browser, url, log);
      await waitLive(first, 'the first tab');
      await first.close();
      const again = await openPage(chromium.browser, url, log);
      try {
        await waitLive(again, 'the new tab', 15_000);
        expect(await seen(again, '#slate-text')).to.not.match(/máy khác/);
      } finally {
        await again.close();
      }
    });

    it('a revoked (re-issued) link says so at once and stops; the old panel no longer says "ĐANG PHÁT BIỂU"', async () => {
      const panel = await openPage(chromium.browser, await inviteUrl(server, COMMUNE, 'operator.html'), log);
      const hall = await openPage(chromium.browser, await inviteUrl(server, COMMUNE), log);
      const chair = await openPage(chromium.browser, await inviteUrl(server, 'chair', 'chair.html'), log);
      try {
        for (const p of [panel, hall]) await p.setViewport({ width: 1280, height: 800 });
        await waitLive(hall, COMMUNE);
        await waitFor('chair console has its view', () => chair.evaluate(() => !!(window as any).diemcau?.control?.view));
        expect((await command(chair, { type: 'start_meeting' })).ok).to.equal(true);
        expect((await command(panel, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch' })).ok).to.equal(true);
        expect((await command(chair, { type: 'grant_next' })).ok).to.equal(true);
        await waitText(panel, '#speaking .on-air', /^ĐANG PHÁT BIỂU$/, 'the panel speaks');
        const old = await tokenOf(server, COMMUNE);

        const t0 = Date.now();
        const res = await fetch(`${server.url}/api/tokens/reissue`, { method: 'POST', headers: { authorization: `Bearer ${await tokenOf(server, 'chair')}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: COMMUNE }) });
        expect(res.status).to.equal(200);
        for (const page of [panel, hall]) {
          await waitText(page, '#refusal', /Liên kết này đã bị thu hồi/, 'the page says its link was revoked', 5000);
          const body = await page.evaluate(() => document.body.innerText);
          expect(body).to.not.contain('ĐANG PHÁT BIỂU');
          expect(body).to.not.match(/\d+:\d\d/, 'no countdown');
          expect(body).to.not.contain('đang kết nối lại');
        }
        expect(Date.now() - t0, 'at once').to.be.lessThan(5000);
        await shot(panel, 'links-revoked-panel');
        await shot(hall, 'links-revoked-hall');
        // It stopped: no socket retries, the camera is off, the hall is offline.
        await new Promise((r) => setTimeout(r, 3000));
        const stopped = await hall.evaluate(() => {
          const d = (window as any).diemcau;
          return { control: d.control.socket.active, media: d.client.socket.active, state: d.client.state, tracks: (d.client.localStream?.getTracks() ?? []).map((t: MediaStreamTrack) => t.readyState) };
        });
        expect(stopped).to.deep.include({ control: false, media: false, state: 'refused' });
        expect(stopped.tracks.every((s: string) => s === 'ended')).to.equal(true);
        expect(await panel.evaluate(() => (window as any).diemcau.control.socket.active)).to.equal(false);

        // The old link opened again, an invalid one, none at all: each says so at once.
        const again = await openPage(chromium.browser, `${server.url}/operator.html#token=${old}`, log);
        await waitText(again, '#refusal', /Liên kết này đã bị thu hồi/, 'the old link opened again', 5000);
        await again.close();
        const invalid = await openPage(chromium.browser, `${server.url}/hall.html#token=${'A'.repeat(22)}`, log);
        await waitText(invalid, '#refusal', /Liên kết này không hợp lệ/, 'an invalid link', 5000);
        await shot(invalid, 'links-invalid-hall');
        await invalid.close();
        // A page that was away when its link was revoked hears why on its next connect.
        const late = io(`${server.url}/control`, { auth: { token: old }, transports: ['websocket'], forceNew: true, reconnection: false });
        const refusal = await new Promise<{ message: string; data?: { code?: string } }>((resolve) => late.once('connect_error', (e) => resolve(e as never)));
        late.close();
        expect(refusal.message).to.equal('unauthenticated');
        expect(refusal.data?.code).to.equal('token_revoked');
      } finally {
        for (const p of [panel, hall, chair]) await p.close().catch(() => undefined);
      }
    });

    it('a second PC asks before taking a hall over; the first sees why it lost it and takes it back', async () => {
      const url = await inviteUrl(server, DISTRICT);
      const firstPc = await openPage(chromium.browser, url, log);
      const otherContext = await chromium.browser.createBrowserContext();
      try {
        await firstPc.setViewport({ width: 1280, height: 720 });
        await waitLive(firstPc, 'the first PC');
        const publisherPeer = (): string | undefined => server.media.snapshot().peers.find((p) => p.bridgeId === DISTRICT && p.producers.length > 0)?.peerId;
        const firstPeer = await waitFor('the first PC publishes', async () => publisherPeer());

        const secondPc = await otherContext.newPage();
        secondPc.on('console', (m) => m.type() === 'error' && log.push(`[second] ${m.text()}`));
        await secondPc.setViewport({ width: 1280, height: 720 });
        await secondPc.goto(url);
        await waitText(secondPc, '#slate-text', /^Điểm cầu này đang mở trên một máy khác\. Tiếp quản\?$/, 'the second PC asks');
        expect(await seen(secondPc, '#take-over')).to.equal('Tiếp quản');
        expect(await seen(secondPc, '#stay-away')).to.equal('Không');
        await shot(secondPc, 'links-takeover-ask');
        // Nothing was taken: the first PC goes on publishing.
        await new Promise((r) => setTimeout(r, 1500));
        expect((await pageState(firstPc)).state).to.equal('live');
        expect(publisherPeer()).to.equal(firstPeer);

        await secondPc.bringToFront();
        await secondPc.click('#take-over');
        await waitLive(secondPc, 'the second PC after taking over');
        await waitText(firstPc, '#slate-text', /Điểm cầu này đã được một máy khác tiếp quản lúc \d\d:\d\d:\d\d/, 'the first PC says why it lost the hall');
        expect(await seen(firstPc, '#take-over')).to.equal('Lấy lại điểm cầu');
        expect(publisherPeer()).to.not.equal(firstPeer);
        await shot(firstPc, 'links-takeover-lost');

        await firstPc.bringToFront();
        await firstPc.click('#take-over');
        await waitLive(firstPc, 'the first PC took it back');
        await waitText(secondPc, '#slate-text', /đã được một máy khác tiếp quản/, 'the second PC lost it');
        // A reload of the PC that has the hall is the same page: it does not ask.
        await firstPc.reload();
        await waitLive(firstPc, 'the first PC after a reload');
        expect(await firstPc.$eval('#slate-actions', (el) => (el as HTMLElement).hidden)).to.equal(true);
      } finally {
        await firstPc.close().catch(() => undefined);
        await otherContext.close().catch(() => undefined);
      }
    });
  });
});

void PROVINCE;
