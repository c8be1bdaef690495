import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { launchChromium, openWindow, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { waitLive } from '../helpers/hall-page.ts';

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
});
