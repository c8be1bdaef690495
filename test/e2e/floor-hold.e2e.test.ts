// Issue 15, "Floor and microphones", as the people in the halls see it (Chromium): a break
// silences the speaker and stops its clock; the speaking hall's operator mutes the hall for a
// moment; a speaking commune whose page loses its sockets keeps the floor and comes back; the
// chair's tiles show who is heard, with a level. Screenshots in artifacts/.
import fs from 'node:fs';
import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageState, waitLive } from '../helpers/hall-page.ts';

const PROVINCE = 'p-20';
const DISTRICT = 'd-178';
const COMMUNE = 'c-06010'; // Xã Cao Minh
const ARTIFACTS = 'artifacts';

/** Sends a control command from a page, through its own socket and token. */
async function command(page: Page, cmd: Record<string, unknown>): Promise<{ ok: boolean; error?: { code: string; message: string } }> {
  return page.evaluate((c) => (window as any).diemcau.control.command(c), cmd);
}

/** What a person reads in an element (rendered text; '' when it is not shown). */
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

/** The page loses its sockets (its link drops) for ms, then its client reconnects by itself. */
async function linkBlip(page: Page, ms: number): Promise<void> {
  await page.evaluate((downMs: number) => {
    const d = (window as any).diemcau;
    const sockets = [d.control?.socket, d.client?.socket].filter(Boolean);
    const managers = [...new Set(sockets.map((s: any) => s.io))] as any[];
    for (const m of managers) {
      m.reconnection(false);
      m.engine?.close();
    }
    setTimeout(() => {
      for (const m of managers) m.reconnection(true);
      for (const s of sockets) s.connect();
    }, downMs);
  }, ms);
}

describe('e2e: a break, a mute and a blip of the speaker\'s link (Chromium)', function () {
  this.timeout(240_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  const log: string[] = [];
  let display: Page; // the speaking commune's projector display
  let panel: Page; // its operator panel
  let district: Page; // another hall's display
  let chair: Page;

  before(async () => {
    server = await startTestServer(2);
    chromium = await launchChromium();
    display = await openPage(chromium.browser, await inviteUrl(server, COMMUNE), log);
    district = await openPage(chromium.browser, await inviteUrl(server, DISTRICT), log);
    panel = await openPage(chromium.browser, await inviteUrl(server, COMMUNE, 'operator.html'), log);
    chair = await openPage(chromium.browser, await inviteUrl(server, 'chair', 'chair.html'), log);
    for (const p of [display, district, panel, chair]) await p.setViewport({ width: 1366, height: 900 });
    await waitLive(display, COMMUNE);
    await waitLive(district, DISTRICT);
    await waitFor('chair console has its view', () => chair.evaluate(() => !!(window as any).diemcau?.control?.view));
    // The chair finds the commune's tile (one page of the commune wall).
    await chair.bringToFront();
    await chair.type('#commune-filter', 'Cao Minh');
    expect((await command(chair, { type: 'start_meeting' })).ok).to.equal(true);
    expect((await command(panel, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch HĐND xã' })).ok).to.equal(true);
    expect((await command(chair, { type: 'grant_next' })).ok).to.equal(true);
    await waitFor('the commune\'s microphone open', async () => (await pageState(display)).micOpen);
    await waitText(panel, '#speaking .on-air', /^ĐANG PHÁT BIỂU$/, 'the panel says the hall speaks');
  });

  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && log.length) console.log(log.slice(-30).join('\n'));
  });

  it('the chair\'s console shows who is heard, with a level on the speaking hall\'s tile', async () => {
    const tile = `#commune-grid .tile[data-bridge="${COMMUNE}"]`;
    const level = await waitFor('the commune\'s tile lit with a level', async () => {
      const t = await chair.$eval(tile, (el) => ({ speaking: el.classList.contains('speaking'), level: (el as HTMLElement).dataset.level ?? '' })).catch(() => null);
      return t?.speaking && t.level !== '' ? Number(t.level) : undefined;
    }, 30_000, 50);
    expect(level).to.be.within(-70, 0);
    expect(await seen(chair, '#heard')).to.contain('Xã Cao Minh');
    await shot(chair, 'floor-hold-chair-levels');
  });

  it('a break closes the speaker\'s microphone, stops its clock, and nobody says "ĐANG PHÁT BIỂU"; after it the speech goes on', async () => {
    expect((await command(chair, { type: 'break_start' })).ok).to.equal(true);
    await waitFor('the commune\'s microphone closed at the SFU', async () => !(await pageState(display)).micOpen);
    expect(server.media.openMicrophones).to.deep.equal([PROVINCE]);
    expect((await server.media.micReport()).find((r) => r.bridgeId === COMMUNE)?.open).to.equal(false);
    await waitText(display, '#mic-state', /^Micrô đang tắt$/, 'the display says the microphone is off');
    const onAir = await waitText(panel, '#speaking .on-air', /GIẢI LAO/, 'the panel says the break');
    expect(onAir).to.not.contain('ĐANG PHÁT BIỂU');
    expect(await panel.evaluate(() => document.body.innerText)).to.not.contain('ĐANG PHÁT BIỂU');
    await waitText(district, '#slate-text', /^Giải lao$/, 'the other hall shows the break');
    // The clock stands still: the same time left now and 2.5 s later, on every screen.
    const before = await panel.$eval('#op-countdown', (el) => (el as HTMLElement).innerText);
    const view1 = await chair.evaluate(() => (window as any).diemcau.control.view.floor.timer);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await panel.$eval('#op-countdown', (el) => (el as HTMLElement).innerText)).to.equal(before);
    const view2 = await chair.evaluate(() => (window as any).diemcau.control.view.floor.timer);
    expect(view2.paused).to.equal(true);
    expect(view2.remainingMs).to.equal(view1.remainingMs);
    expect(await seen(chair, '#floor-suspended')).to.contain('Giải lao');
    await shot(panel, 'floor-hold-panel-break');
    await shot(chair, 'floor-hold-chair-break');

    expect((await command(chair, { type: 'break_end' })).ok).to.equal(true);
    await waitFor('the commune\'s microphone open again', async () => (await pageState(display)).micOpen);
    await waitText(panel, '#speaking .on-air', /^ĐANG PHÁT BIỂU$/, 'the panel says the hall speaks again');
    const after = await chair.evaluate(() => (window as any).diemcau.control.view.floor.timer);
    expect(after.paused).to.equal(false);
    // It goes on from the time it had (the deadline moved by the length of the break).
    expect(after.deadline - Date.now()).to.be.within(view1.remainingMs - 3000, view1.remainingMs + 500);
  });

  it('the operator mutes the speaking hall for a moment ("Tắt micrô tạm thời"): the SFU closes it, every screen says so, then it opens again', async () => {
    await panel.bringToFront();
    expect(await seen(panel, '#mute')).to.equal('Tắt micrô tạm thời');
    await panel.click('#mute');
    await waitFor('the commune\'s microphone closed at the SFU', async () => !(await pageState(display)).micOpen);
    expect(server.media.openMicrophones).to.deep.equal([PROVINCE]);
    expect(server.conference.runner.state.floor?.bridgeId, 'it keeps the floor').to.equal(COMMUNE);
    await waitText(panel, '#mute', /^Bật lại micrô$/, 'the button opens it again');
    await waitText(panel, '#speaking .on-air', /MICRÔ TẠM TẮT/, 'the panel says the microphone is off for a moment');
    await waitText(district, '#speaker-muted', /tạm tắt/, 'the other hall\'s display says so');
    await waitText(chair, '#floor-suspended', /tạm tắt micrô/, 'the chair\'s console says so');
    // Nothing of the hall is heard any more: its tile goes dark.
    await waitFor('the commune no longer heard on the chair\'s tiles', async () => !(await seen(chair, '#heard')).includes('Xã Cao Minh'), 15_000);
    await shot(panel, 'floor-hold-panel-muted');
    await panel.bringToFront();
    await panel.click('#mute');
    await waitFor('the commune\'s microphone open again', async () => (await pageState(display)).micOpen);
    await waitText(panel, '#mute', /^Tắt micrô tạm thời$/, 'the button mutes again');
  });

  it('the speaking commune\'s page loses its sockets: it keeps the floor, every screen waits for it, and it speaks on when back', async () => {
    const before = await chair.evaluate(() => (window as any).diemcau.control.view.floor.timer);
    await linkBlip(display, 7000);
    await linkBlip(panel, 7000);
    await waitFor('the commune offline in the state', async () => server.conference.runner.state.presence[COMMUNE]?.online === false);
    const state = server.conference.runner.state;
    expect(state.floor?.bridgeId, 'it keeps the floor').to.equal(COMMUNE);
    expect(state.floor?.reconnectingUntil).to.be.a('number');
    const waiting = await waitText(district, '#slate-text', /Đang chờ điểm cầu Xã Cao Minh kết nối lại/, 'the other hall waits for it');
    expect(waiting).to.match(/còn \d+ giây/);
    await waitText(chair, '#floor-suspended', /Đang chờ điểm cầu Xã Cao Minh kết nối lại/, 'the chair waits for it');
    const held = await chair.evaluate(() => (window as any).diemcau.control.view.floor.timer);
    expect(held.paused).to.equal(true);
    await shot(district, 'floor-hold-district-waiting');
    await shot(chair, 'floor-hold-chair-waiting');

    await waitFor('the commune back online', async () => server.conference.runner.state.presence[COMMUNE]?.online === true, 30_000);
    expect(server.conference.runner.state.floor?.bridgeId, 'still its floor').to.equal(COMMUNE);
    await waitLive(display, COMMUNE);
    await waitFor('its microphone open again', async () => (await pageState(display)).micOpen, 20_000);
    const after = await chair.evaluate(() => (window as any).diemcau.control.view.floor.timer);
    expect(after.paused).to.equal(false);
    // The time away did not count: what is left is what it had (within the measurement's slack).
    expect(after.deadline - before.deadline).to.be.greaterThan(6000);
    await waitFor('the other hall shows the speaker again', async () => (await seen(district, '#slate-text')) === '' || (await district.$eval('#slate', (el) => (el as HTMLElement).hidden)));
    expect(server.conference.runner.state.speeches).to.have.length(0);
  });
});
