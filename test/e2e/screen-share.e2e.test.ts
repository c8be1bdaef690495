import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { launchChromium, openWindow, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { waitLive } from '../helpers/hall-page.ts';
import { RESUME_WINDOW_MS } from '../../server/transport/media-socket.ts';
import { SCREEN_SOURCE_GRACE_MS } from '../../server/core/conference/index.ts';

const COMMUNE = 'c-06010'; // Xã Cao Minh shares its screen
const PROVINCE = 'p-20';
/** Halls that receive the shared screen. */
const VIEWERS = ['d-178', 'c-05971'];

/** What a display's shared-screen element shows: visible or not, the decoded size and frames so far. */
function screenVideo(page: Page): Promise<{ hidden: boolean; width: number; height: number; frames: number; caption: string | null }> {
  return page.evaluate(() => {
    const v = document.getElementById('screen-share') as HTMLVideoElement;
    const caption = document.getElementById('content-caption')!;
    return {
      hidden: v.hidden === true,
      width: v.videoWidth,
      height: v.videoHeight,
      frames: v.getVideoPlaybackQuality().totalVideoFrames,
      caption: caption.hidden ? null : caption.textContent,
    };
  });
}

/** Frames a display's shared-screen video presents within about a second (requestVideoFrameCallback). */
function framesPresented(page: Page, ms = 1000): Promise<number> {
  // A string: tsx names the inner callback with a helper the page does not have.
  return page.evaluate(`new Promise((resolve) => {
    const v = document.getElementById('screen-share');
    let n = 0;
    const on = () => { n++; v.requestVideoFrameCallback(on); };
    v.requestVideoFrameCallback(on);
    setTimeout(() => resolve(n), ${ms});
  })`) as Promise<number>;
}

/** The message and its code under the screen-share buttons of a panel or console. */
const screenMessage = (page: Page) => page.$eval('#screen-msg', (e) => ({ text: e.textContent ?? '', code: (e as HTMLElement).dataset.code ?? '' }));

describe("e2e: a commune shares its screen with every hall display (Chromium's getDisplayMedia, real mediasoup)", function () {
  this.timeout(240_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  /** A Chromium of its own for a panel that is killed (no pagehide, like a PC that crashes). */
  let doomed: TestBrowser | undefined;
  const log: string[] = [];
  let panel: Page;
  let province: Page;
  let chair: Page;
  const displays = new Map<string, Page>();

  before(async () => {
    server = await startTestServer(2);
    chromium = await launchChromium();
    for (const id of [COMMUNE, ...VIEWERS]) displays.set(id, await openWindow(chromium, await inviteUrl(server, id), log, { width: 1280, height: 720 }));
    panel = await openWindow(chromium, await inviteUrl(server, COMMUNE, 'operator.html'), log, { width: 1366, height: 900 });
    province = await openWindow(chromium, await inviteUrl(server, PROVINCE, 'operator.html'), log, { width: 1366, height: 900 });
    chair = await openWindow(chromium, await inviteUrl(server, 'chair', 'chair.html'), log, { width: 1600, height: 1000 });
    for (const [id, page] of displays) await waitLive(page, id);
  });

  after(async () => {
    await doomed?.close();
    await chromium?.close();
    await server?.close();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && log.length) console.log(log.slice(-30).join('\n'));
  });

  it('the commune, holding the floor, shares from its operator panel; two other hall displays decode the shared screen beside the speaker', async () => {
    // The console's button works once the console has the conference's view (a loaded machine takes a while).
    await waitFor("the chair's console has its view", () => chair.evaluate(() => !!(window as any).diemcau?.control?.view));
    await chair.click('#start-meeting');
    await waitFor('meeting running', async () => server.conference.runner.state.status === 'running');
    // Before it has the floor, the commune's button is not offered.
    expect(await panel.$eval('#screen-start', (b) => (b as HTMLButtonElement).disabled)).to.equal(true);
    await panel.type('#speaker-name', 'Hoàng Thị Mai');
    await panel.type('#speaker-title', 'Phó Chủ tịch HĐND xã Cao Minh');
    await panel.click('#request');
    const grant = await chair.waitForSelector(`li.request[data-bridge="${COMMUNE}"] button.grant`, { timeout: 20_000 });
    await grant!.click();
    await waitFor('the commune holds the floor', async () => server.conference.runner.state.floor?.bridgeId === COMMUNE);

    const start = await panel.waitForSelector('#screen-start:not([hidden]):not([disabled])', { timeout: 20_000 });
    await start!.click();
    await waitFor('the commune shares', async () => server.conference.runner.state.screen?.bridgeId === COMMUNE);
    await waitFor('the panel publishes its screen', async () => panel.evaluate(() => (window as any).diemcau.screen.client?.sharing === true), 30_000).catch(async (e) => {
      console.log(await panel.evaluate(() => JSON.stringify({ msg: document.getElementById('screen-msg')!.textContent, state: (window as any).diemcau.screen.client?.state })));
      throw e;
    });
    expect(await panel.$eval('#screen-stop', (b) => ({ hidden: (b as HTMLElement).hidden, text: b.textContent }))).to.deep.equal({ hidden: false, text: 'Dừng chia sẻ' });
    // The size the panel captures (Chromium's fake screen); kept sharp, it arrives at that size.
    const captured = await panel.evaluate(() => {
      const s = ((window as any).diemcau.screen.capture as MediaStream).getVideoTracks()[0]!.getSettings();
      return { width: s.width!, height: s.height! };
    });

    for (const id of VIEWERS) {
      const page = displays.get(id)!;
      const first = await waitFor(`${id} shows the shared screen`, async () => {
        const v = await screenVideo(page);
        return !v.hidden && v.width > 0 && v.frames > 0 ? v : undefined;
      }, 30_000);
      // Frames keep coming (decoded and presented), at the capture's size.
      const presented = await framesPresented(page);
      expect(presented, `${id}: frames presented in a second`).to.be.greaterThan(3);
      const later = await screenVideo(page);
      expect(later.frames, `${id}: frames decoded`).to.be.greaterThan(first.frames);
      expect({ width: later.width, height: later.height }, `${id}: decoded size`).to.deep.equal(captured);
      console.log(`      ${id}: shared screen ${later.width}×${later.height}, ${presented} frames presented in 1 s, ${later.frames} decoded`);
      expect(later.caption).to.equal('Màn hình chia sẻ — Xã Cao Minh');
      // The speaker's pane stays beside it.
      expect(await page.$eval('#program', (e) => (e as HTMLVideoElement).getBoundingClientRect().width > 200)).to.equal(true);
      const consumers = await page.evaluate(() => [...(window as any).diemcau.client.consumers.values()].filter((c: any) => c.slot === 'content').map((c: any) => c.bridgeId));
      expect(consumers).to.deep.equal([COMMUNE]);
    }
    // The chair's console shows the shared screen too, beside the programme's preview.
    await waitFor("the chair's console shows the shared screen", async () =>
      chair.evaluate(() => {
        const v = document.getElementById('screen-preview') as HTMLVideoElement;
        return !document.getElementById('screen-preview-box')!.hidden && v.videoWidth > 0 && (v.getVideoPlaybackQuality?.().totalVideoFrames ?? 0) > 0;
      }), 20_000);
    if (process.env.DIEMCAU_SCREENSHOTS) await displays.get(VIEWERS[0]!)!.screenshot({ path: `${process.env.DIEMCAU_SCREENSHOTS}/hall-with-shared-screen.png` });
    // The sharing hall's own display does not receive its screen back.
    const own = displays.get(COMMUNE)!;
    expect((await screenVideo(own)).hidden).to.equal(true);
    expect(await own.evaluate(() => [...(window as any).diemcau.client.consumers.values()].filter((c: any) => c.slot === 'content').length)).to.equal(0);
  });

  it("another hall's share is refused while the commune shares: the province's panel says why, in Vietnamese, and opens no picker", async () => {
    const start = await province.waitForSelector('#screen-start:not([hidden]):not([disabled])', { timeout: 20_000 });
    expect(await province.$eval('#screen-state', (e) => e.textContent)).to.equal('Điểm cầu xã Cao Minh đang chia sẻ màn hình.');
    await start!.click();
    const msg = await waitFor('the refusal', async () => {
      const m = await screenMessage(province);
      return m.text ? m : undefined;
    });
    expect(msg).to.deep.equal({ code: 'content_busy', text: 'Đang có nội dung khác trên màn hình (một điểm cầu đang chia sẻ màn hình hoặc một tài liệu đang trình chiếu).' });
    expect(await province.evaluate(() => (window as any).diemcau.screen.sharing)).to.equal(false);
    expect(server.conference.runner.state.screen?.bridgeId).to.equal(COMMUNE);
  });

  it("the chair stops the commune's share: every display drops the content and the commune's capture stops", async () => {
    await panel.evaluate(() => {
      (window as any).sharedTrack = (window as any).diemcau.screen.capture.getVideoTracks()[0];
    });
    const stop = await chair.waitForSelector('#screen-stop:not([hidden])');
    expect(await chair.$eval('#screen-stop', (b) => b.textContent)).to.equal('Dừng chia sẻ màn hình của điểm cầu xã Cao Minh');
    await stop!.click();
    await waitFor('the share ended', async () => server.conference.runner.state.screen === null);
    for (const id of VIEWERS) {
      await waitFor(`${id} drops the shared screen`, async () => {
        const v = await screenVideo(displays.get(id)!);
        return v.hidden && v.caption === null;
      });
      await waitFor(`${id} holds no content consumer`, async () =>
        displays.get(id)!.evaluate(() => [...(window as any).diemcau.client.consumers.values()].every((c: any) => c.slot !== 'content')),
      );
    }
    await waitFor("the chair's console drops the shared screen", async () => chair.$eval('#screen-preview-box', (e) => (e as HTMLElement).hidden));
    await waitFor('the panel stopped its capture', async () => panel.evaluate(() => !(window as any).diemcau.screen.sharing && (window as any).sharedTrack.readyState === 'ended'));
    expect(await panel.$eval('#screen-start', (b) => (b as HTMLElement).hidden)).to.equal(false);
  });

  it("the browser's own \"stop sharing\" (the capture ends) stops the share on the server", async () => {
    await panel.click('#screen-start');
    await waitFor('the commune shares again', async () => server.conference.runner.state.screen?.bridgeId === COMMUNE);
    await waitFor('the panel publishes its screen', async () => panel.evaluate(() => (window as any).diemcau.screen.client?.sharing === true), 30_000);
    await waitFor(`${VIEWERS[0]} shows it`, async () => !(await screenVideo(displays.get(VIEWERS[0]!)!)).hidden, 30_000);
    // What the browser's bar does: the capture's track ends (stop() alone fires no 'ended', so the event is dispatched as the browser would).
    await panel.evaluate(() => {
      const track = (window as any).diemcau.screen.capture.getVideoTracks()[0] as MediaStreamTrack;
      track.stop();
      track.dispatchEvent(new Event('ended'));
    });
    await waitFor('the share ended on the server', async () => server.conference.runner.state.screen === null);
    await waitFor(`${VIEWERS[0]} drops it`, async () => (await screenVideo(displays.get(VIEWERS[0]!)!)).hidden);
  });

  it('the sharing panel closed (its tab closed) ends the share on the server and on every display', async () => {
    await panel.click('#screen-start');
    await waitFor('the commune shares again', async () => server.conference.runner.state.screen?.bridgeId === COMMUNE);
    await waitFor('the panel publishes its screen', async () => panel.evaluate(() => (window as any).diemcau.screen.client?.sharing === true), 30_000);
    await waitFor(`${VIEWERS[0]} shows it`, async () => !(await screenVideo(displays.get(VIEWERS[0]!)!)).hidden, 30_000);
    // Its third share: only the media client of this one follows the panel's placement (the closed ones let go).
    expect(await panel.evaluate(() => (window as any).diemcau.control.placementFollowers)).to.equal(1);
    await panel.close();
    await waitFor('the share ended on the server', async () => server.conference.runner.state.screen === null, 10_000);
    await waitFor(`${VIEWERS[0]} drops it`, async () => (await screenVideo(displays.get(VIEWERS[0]!)!)).hidden);
  });

  /** Opens a commune panel (in the given Chromium) and shares its screen until two viewers decode it. */
  async function shareFrom(browser: TestBrowser): Promise<Page> {
    const page = await openWindow(browser, await inviteUrl(server, COMMUNE, 'operator.html'), log, { width: 1366, height: 900 });
    const start = await page.waitForSelector('#screen-start:not([hidden]):not([disabled])', { timeout: 30_000 });
    await start!.click();
    await waitFor('the commune shares', async () => server.conference.runner.state.screen?.bridgeId === COMMUNE);
    await waitFor('the panel publishes its screen', async () => page.evaluate(() => (window as any).diemcau.screen.client?.sharing === true), 30_000);
    for (const id of VIEWERS) await waitFor(`${id} shows it`, async () => !(await screenVideo(displays.get(id)!)).hidden, 30_000);
    return page;
  }

  it("the sharing PC crashes (its Chromium killed: no pagehide, no stop): the server ends the share by itself, every display drops it and says why", async () => {
    doomed = await launchChromium();
    await shareFrom(doomed);
    const pid = doomed.browser.process()?.pid;
    expect(pid, "the panel's Chromium").to.be.a('number');
    // The whole process group (browser, renderers, network service), as a power cut would.
    process.kill(-pid!, 'SIGKILL');
    const killedAt = Date.now();
    // The server waits for the page to come back (its media's resume window), then the grace, then ends the share.
    await waitFor('the share ended on the server', async () => server.conference.runner.state.screen === null, RESUME_WINDOW_MS + SCREEN_SOURCE_GRACE_MS + 15_000);
    console.log(`      the share ended ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (resume window ${RESUME_WINDOW_MS / 1000} s + grace ${SCREEN_SOURCE_GRACE_MS / 1000} s)`);
    expect(server.conference.runner.state.screenEnded).to.deep.include({ bridgeId: COMMUNE, reason: 'source_lost' });
    const stop = (await server.conference.runner.readLog()).filter((e) => e.type === 'screen_share_stopped').at(-1)!;
    expect(stop.actor).to.deep.equal({ role: 'system' });
    const said = 'Đã dừng chia sẻ màn hình của điểm cầu xã Cao Minh: mất kết nối với máy đang chia sẻ.';
    for (const id of VIEWERS) {
      const page = displays.get(id)!;
      await waitFor(`${id} drops the shared screen`, async () => {
        const v = await screenVideo(page);
        return v.hidden && v.caption === null;
      }, 10_000);
      await waitFor(`${id} says why`, async () => page.$eval('#screen-lost', (e) => !(e as HTMLElement).hidden && e.textContent), 10_000);
      expect(await page.$eval('#screen-lost', (e) => e.textContent)).to.equal(said);
    }
    // The chair's console: its card and an alert.
    await waitFor("the chair's console drops the shared screen", async () => chair.$eval('#screen-preview-box', (e) => (e as HTMLElement).hidden));
    await waitFor("the chair's card says why", async () => (await chair.$eval('#screen-state', (e) => e.textContent)) === said, 10_000);
    expect(await chair.$$eval('#alerts li', (els) => els.map((e) => e.textContent ?? ''))).to.satisfy((texts: string[]) => texts.some((t) => t.endsWith(said)));
    // Nobody is left content_busy: the province may share at once.
    expect((await server.conference.execute({ role: 'operator', bridgeId: PROVINCE, bridgeName: 'Tỉnh Lạng Sơn' } as never, { type: 'screen_share_start' })).ok).to.equal(true);
    expect((await server.conference.execute({ role: 'chair' } as never, { type: 'screen_share_stop' })).ok).to.equal(true);
  });

  it('a screen track that goes and comes back within the grace keeps the share (the worker carrying it dies; the panel publishes again by itself)', async () => {
    const page = await shareFrom(chromium);
    const startedAt = server.conference.runner.state.screen!.startedAt;
    const screenProducer = (): { id: string; workerIndex: number } | undefined => {
      for (const peer of server.media.snapshot().peers) {
        const p = peer.producers.find((x) => x.source === 'screen' && peer.bridgeId === COMMUNE);
        if (p) return { id: p.id, workerIndex: peer.workerIndex };
      }
      return undefined;
    };
    const before = screenProducer()!;
    const pid = server.media.snapshot().workers[before.workerIndex]!.pid;
    const lost: number[] = [];
    /** The watch's deadline just after the track went (its listener ran first: it was there before this one). */
    const armed: (number | null | undefined)[] = [];
    const onPublishing = (p: { bridgeId: string; source: string; on: boolean }): void => {
      if (p.bridgeId !== COMMUNE || p.source !== 'screen' || p.on) return;
      lost.push(Date.now());
      armed.push(server.conference.screenWatch?.deadline);
    };
    server.media.on('publishing', onPublishing);
    try {
      process.kill(pid, 'SIGKILL');
      const killedAt = Date.now();
      const back = await waitFor('a new screen track', async () => {
        const now = screenProducer();
        return now && now.id !== before.id ? now : undefined;
      }, SCREEN_SOURCE_GRACE_MS + 10_000);
      expect(lost.length, 'the track went').to.be.greaterThan(0);
      expect(armed[0], 'the watch counted the grace from the loss').to.be.a('number').within(lost[0]! + SCREEN_SOURCE_GRACE_MS - 1000, lost[0]! + SCREEN_SOURCE_GRACE_MS + 1000);
      console.log(`      the screen track was gone ${((Date.now() - lost[0]!) / 1000).toFixed(1)} s (grace ${SCREEN_SOURCE_GRACE_MS / 1000} s)`);
      expect(back.id).to.not.equal(before.id);
      // Past the grace from the kill, it is the same share, and the halls see it again.
      await new Promise((r) => setTimeout(r, Math.max(0, killedAt + SCREEN_SOURCE_GRACE_MS + 3_000 - Date.now())));
      expect(server.conference.runner.state.screen).to.deep.include({ bridgeId: COMMUNE, startedAt });
      expect(server.conference.screenWatch?.deadline, 'nothing armed: the track is live').to.equal(null);
      expect(await page.evaluate(() => (window as any).diemcau.screen.sharing)).to.equal(true);
      for (const id of VIEWERS) {
        const display = displays.get(id)!;
        await waitFor(`${id} shows it again`, async () => {
          const v = await screenVideo(display);
          return !v.hidden && v.width > 0 ? v : undefined;
        }, 30_000);
        expect(await framesPresented(display), `${id}: frames presented in a second`).to.be.greaterThan(0);
      }
    } finally {
      server.media.off('publishing', onPublishing);
    }
  });
});
