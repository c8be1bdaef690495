import fs from 'node:fs';
import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import { loadConfig } from '../../config/index.ts';
import { langSon2021PlanInput } from '../../config/default-plan.ts';
import { parsePlanOrThrow } from '../../server/protocol/plan.ts';
import { startServer, type RunningServer } from '../../server/app/server.ts';
import { INVITE_PATHS } from '../../server/app/conference/tokens.ts';
import { freePortBase } from '../helpers/server.ts';
import { launchChromium, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageState, pageVideo } from '../helpers/hall-page.ts';

// The halls of the scenario: a district, the commune that speaks (in that district), another commune.
const DISTRICT = 'd-185'; // Huyện Bắc Sơn
const SPEAKER = 'c-06331'; // Xã Vạn Thủy, Huyện Bắc Sơn
const OTHER = 'c-06010'; // Xã Cao Minh, Huyện Tràng Định
const SPEAKER_NAME = 'Nguyễn Thị Hoa';
const SPEAKER_TITLE = 'Chủ tịch HĐND xã Vạn Thủy';
const OTHER_NAME = 'Hoàng Văn Minh';
const RED = 'rgb(192, 0, 0)';
const YELLOW = 'rgb(255, 222, 0)';
const WARNING_BG = 'rgb(230, 161, 0)';
const ARTIFACTS = 'artifacts';

/** A real server whose speeches last 1 minute with warnings at 50 and 30 s left, so the warning comes in 10 s. */
async function startShortSpeechServer(): Promise<RunningServer> {
  const input = langSon2021PlanInput();
  const plan = parsePlanOrThrow({ ...input, speaking: { ...input.speaking, defaultLimitMinutes: 1, warningMarksSeconds: [50, 30] } }, 'apps-e2e');
  const webRtcBasePort = await freePortBase(2);
  const rtcMinPort = Math.min(await freePortBase(1), 64000);
  const config = loadConfig({}, { listenIp: '127.0.0.1', httpPort: 0, workers: 2, webRtcBasePort, rtcMinPort, rtcMaxPort: rtcMinPort + 999, logLevel: 'warn', store: 'memory' });
  return startServer(config, plan);
}

/** What a person reads in an element (innerText: rendered, hidden parts left out). */
function seen(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => (el as HTMLElement).innerText.trim());
}

/** Waits until the text of an element matches. */
async function waitText(page: Page, selector: string, expected: RegExp | string, label: string, timeoutMs = 20_000): Promise<string> {
  return waitFor(
    `${label} (${selector} ~ ${String(expected)})`,
    async () => {
      const text = await seen(page, selector).catch(() => '');
      const ok = typeof expected === 'string' ? text.includes(expected) : expected.test(text);
      return ok ? text : undefined;
    },
    timeoutMs,
  );
}

/** Whether an element is shown (rendered with a size). */
function visible(page: Page, selector: string): Promise<boolean> {
  return page.$eval(selector, (el) => {
    const r = (el as HTMLElement).getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  }).catch(() => false);
}

/**
 * Clicks like a person: the page comes to the front first. Headless Chromium does not render a
 * tab behind others, and a click waits for a rendered frame to know the element is in view.
 */
async function click(page: Page, selector: string, options: { count?: number } = {}): Promise<void> {
  await page.bringToFront();
  await page.click(selector, options);
}

/** Types like a person, on the page in front. */
async function type(page: Page, selector: string, text: string): Promise<void> {
  await page.bringToFront();
  await page.type(selector, text);
}

/** Text and colours of a hall display's maket (the banner over the video, or the one on the slate). */
function maketOf(page: Page, id: 'maket' | 'slate-maket'): Promise<{ text: string; all: string; bg: string; fg: string }> {
  return page.$eval(`#${id}`, (el) => {
    const style = getComputedStyle(el);
    // text: what is drawn; all: every line it carries (the band is compact while someone speaks: its place line is hidden).
    return { text: (el as HTMLElement).innerText, all: el.textContent ?? '', bg: style.backgroundColor, fg: style.color };
  });
}

/** The lower third and countdown of a hall display as a person sees them. */
function displayState(page: Page): Promise<{ name: string; title: string; bridge: string; countdown: string; countdownClass: string; countdownBg: string; lowerThird: boolean; slate: string | null; program: string }> {
  // No helper functions inside: the test transpiler would wrap them in a __name() the page lacks.
  return page.evaluate(() => {
    const cd = document.getElementById('countdown')!;
    return {
      name: document.getElementById('speaker-name')!.innerText,
      title: document.getElementById('speaker-title')!.innerText,
      bridge: document.getElementById('speaker-bridge')!.innerText,
      countdown: cd.hidden ? '' : cd.innerText,
      countdownClass: cd.className,
      countdownBg: getComputedStyle(cd).backgroundColor,
      lowerThird: !document.getElementById('lower-third')!.hidden,
      slate: document.getElementById('slate')!.hidden ? null : document.getElementById('slate-text')!.innerText,
      program: document.getElementById('program-name')!.innerText,
    };
  });
}

describe('e2e: the browser apps — chair console, operator panels, hall displays (Chromium)', function () {
  this.timeout(300_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  const log: string[] = [];
  let invites: { role: string; bridgeId?: string; url: string }[] = [];
  let chair: Page;
  /** The projector display of each hall (opened by its operator panel). */
  const displays = new Map<string, Page>();
  /** The operator panel of the speaking commune (the others are closed after their roll-call). */
  let panel: Page;

  const watch = (page: Page, label: string): Page => {
    page.on('console', (m) => {
      if (m.type() === 'error') log.push(`[${label}] ${m.text()}`);
    });
    page.on('pageerror', (e) => log.push(`[${label}] pageerror: ${(e as Error).message}`));
    return page;
  };
  const open = async (url: string, label: string, width: number, height: number): Promise<Page> => {
    const page = watch(await chromium.browser.newPage(), label);
    await page.setViewport({ width, height });
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    return page;
  };
  const inviteOf = (role: string, bridgeId?: string): string => {
    const row = invites.find((r) => r.role === role && r.bridgeId === bridgeId);
    if (!row) throw new Error(`no invite for ${role} ${bridgeId ?? ''}`);
    return row.url;
  };
  const shot = async (page: Page, name: string): Promise<void> => {
    await page.bringToFront();
    await page.screenshot({ path: `${ARTIFACTS}/apps-${name}.png` });
  };

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = await startShortSpeechServer();
    chromium = await launchChromium();
    // The links people receive, exactly as the printable invite list gives them.
    invites = await server.conference.tokens.inviteList(server.url, INVITE_PATHS);
  });

  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && log.length) console.log(log.slice(-40).join('\n'));
  });

  it('invite links open the page of each role', () => {
    expect(new URL(inviteOf('chair')).pathname).to.equal('/chair.html');
    expect(new URL(inviteOf('secretary')).pathname).to.equal('/chair.html');
    expect(new URL(inviteOf('technician')).pathname).to.equal('/technician.html');
    expect(new URL(inviteOf('viewer')).pathname).to.equal('/hall.html');
    expect(new URL(inviteOf('operator', SPEAKER)).pathname).to.equal('/operator.html');
  });

  it('the chair opens the console from the invite link: nobody online yet', async () => {
    chair = await open(inviteOf('chair'), 'chair', 1920, 1080);
    await waitText(chair, '#rollcall-summary', 'Huyện: 0/11 trực tuyến, 0 sẵn sàng · Xã: 0/200 trực tuyến, 0 sẵn sàng', 'empty roll-call');
    expect(await seen(chair, '#title')).to.equal('Bàn điều hành chủ tọa');
    expect(await seen(chair, '#meeting-status')).to.equal('Chưa bắt đầu');
    expect(await visible(chair, '#start-meeting')).to.equal(true);
    // 11 district tiles, and one page of communes (24), grouped by district.
    expect(await chair.$$eval('#district-grid .tile', (t) => t.length)).to.equal(11);
    expect(await chair.$$eval('#commune-grid .tile', (t) => t.length)).to.equal(24);
    expect(await seen(chair, '#page-info')).to.equal('Trang 1/9 · 200 điểm cầu');
    expect(await chair.$$eval('#commune-grid .group', (g) => g.map((x) => (x as HTMLElement).innerText))).to.deep.equal(['Thành phố Lạng Sơn (8)', 'Huyện Tràng Định (22)']);
  });

  it('each hall operator opens the panel, brings up the projector display from it and reports ready', async () => {
    const halls: [string, number][] = [
      [DISTRICT, 35],
      [OTHER, 20],
      [SPEAKER, 27],
    ];
    for (const [bridgeId, attendees] of halls) {
      const page = await open(inviteOf('operator', bridgeId), `panel ${bridgeId}`, 1366, 768);
      await waitText(page, '#display-state', 'Chưa mở trên máy này', `${bridgeId} panel without display`);
      const popup = new Promise<Page>((resolve) => page.once('popup', (p) => resolve(p!)));
      await click(page, '#open-display');
      const display = watch(await popup, `display ${bridgeId}`);
      await display.setViewport({ width: 1280, height: 720 });
      await waitFor(`${bridgeId} display publishes`, async () => {
        const s = await pageState(display);
        return s.state === 'live' && s.publishing.cam && s.publishing.mic;
      }, 40_000);
      displays.set(bridgeId, display);
      // The panel hears its display through the hall link.
      await waitText(page, '#display-state', 'Đang chạy: đang gửi hình và tiếng của điểm cầu.', `${bridgeId} panel sees its display`);
      await type(page, '#attendees', String(attendees));
      await click(page, '#ready');
      await waitText(page, '#ready-state', `Đã báo sẵn sàng với ${attendees} đại biểu.`, `${bridgeId} ready`);
      if (bridgeId === SPEAKER) panel = page;
      else await page.close();
    }
    // Only one page of a hall publishes: the display. The panel has no media client at all.
    expect(await panel.evaluate(() => 'client' in ((window as any).diemcau ?? {}))).to.equal(false);
    // The panel's self-view, level meter and the display's link quality.
    await waitFor('self-view plays', () => panel.$eval('#self-view', (v) => (v as HTMLVideoElement).videoWidth > 0));
    await waitFor('level meter moves', () => panel.$eval('#meter-bar', (b) => Number((b as HTMLElement).dataset.db) > -50), 10_000);
    await waitText(panel, '#link-level', 'Tốt', 'link quality measured', 15_000);
    await waitText(panel, '#link-detail', /^trễ \d+ ms · mất gói 0 % · gửi \d+ kbit\/s$/, 'link details', 15_000);
    await shot(panel, '01-operator-ready');
  });

  it('the operator switches the microphone: the display puts the new one on the air', async () => {
    const options = await panel.$$eval('#microphone option', (os) => os.map((o) => ({ value: (o as HTMLOptionElement).value, label: o.textContent ?? '' })));
    expect(options.length).to.be.greaterThan(1);
    const next = options.find((o) => o.label === 'Fake Audio Input 1')!;
    await panel.select('#microphone', next.value);
    await waitText(panel, '#device-msg', 'Đã chuyển micrô trên hội nghị.', 'mic switched');
    const onAir = await displays.get(SPEAKER)!.evaluate(() => {
      const c = (window as any).diemcau.client;
      return { label: c.localStream.getAudioTracks()[0].label, tracks: c.localStream.getAudioTracks().length, publishing: c.publishing };
    });
    expect(onAir).to.deep.equal({ label: 'Fake Audio Input 1', tracks: 1, publishing: { mic: true, cam: true } });
  });

  it('roll-call on the chair console: one district and two communes online and ready, with their pictures', async () => {
    await waitText(chair, '#rollcall-summary', 'Huyện: 1/11 trực tuyến, 1 sẵn sàng · Xã: 2/200 trực tuyến, 2 sẵn sàng · Tỉnh: 0/1 · Đại biểu: 82', 'roll-call');
    const row = await chair.$eval(`#rollcall-body tr[data-district="${DISTRICT}"]`, (tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText));
    expect(row).to.deep.equal(['Huyện Bắc Sơn', 'Sẵn sàng (35)', '1/18', '1/18']);
    const tile = `#district-grid .tile[data-bridge="${DISTRICT}"]`;
    await waitFor('district thumbnail plays', () => chair.$eval(`${tile} video`, (v) => (v as HTMLVideoElement).videoWidth > 0), 20_000);
    expect(await chair.$eval(tile, (t) => t.className)).to.contain('ready');
    expect(await seen(chair, `${tile} .name`)).to.equal('Huyện Bắc Sơn');
    expect(await seen(chair, `${tile} .att`)).to.equal('35 người');
    // Xã Cao Minh is on the first page; its thumbnail plays there.
    await waitFor('commune thumbnail plays', () => chair.$eval(`#commune-grid .tile[data-bridge="${OTHER}"] video`, (v) => (v as HTMLVideoElement).videoWidth > 0), 20_000);
    // Filtering by name: without accents any accents match (Vạn Thủy in Bắc Sơn, Vân Thủy in Chi Lăng) …
    await type(chair, '#commune-filter', 'van thuy');
    await waitText(chair, '#page-info', 'Trang 1/1 · 2 điểm cầu', 'filtered without accents');
    expect(await chair.$$eval('#commune-grid .group', (g) => g.map((x) => (x as HTMLElement).innerText))).to.deep.equal(['Huyện Bắc Sơn (1)', 'Huyện Chi Lăng (1)']);
    // … with accents, they count.
    await click(chair, '#commune-filter', { count: 3 });
    await type(chair, '#commune-filter', 'Vạn Thủy');
    await waitText(chair, '#page-info', 'Trang 1/1 · 1 điểm cầu', 'filtered with accents');
    expect(await chair.$$eval('#commune-grid .tile .name', (n) => n.map((x) => (x as HTMLElement).innerText))).to.deep.equal(['Xã Vạn Thủy']);
    await waitFor('filtered thumbnail plays', () => chair.$eval(`#commune-grid .tile[data-bridge="${SPEAKER}"] video`, (v) => (v as HTMLVideoElement).videoWidth > 0), 20_000);
    // Only the halls on screen are decoded: 11 districts + what the commune page shows.
    const thumbs = await chair.evaluate(() => [...(window as any).diemcau.client.consumers.values()].filter((c: any) => c.slot === 'thumb').map((c: any) => c.bridgeId));
    expect(thumbs.sort()).to.deep.equal([DISTRICT, SPEAKER].sort());
    await shot(chair, '02-chair-rollcall');
    await click(chair, '#commune-filter', { count: 3 });
    await chair.keyboard.press('Backspace');
    await waitText(chair, '#page-info', 'Trang 1/9 · 200 điểm cầu', 'filter cleared');
  });

  it('the secretary sets the date with a live preview; every hall maket shows it', async () => {
    const secretary = await open(inviteOf('secretary'), 'secretary', 1366, 768);
    await waitText(secretary, '#title', 'Thư ký', 'secretary console');
    await waitFor('maket editor loaded', () => secretary.$eval('#maket-lines', (t) => (t as HTMLTextAreaElement).value.includes('{LOCALITY_UPPER}')));
    // Chair-only controls are not offered to the secretary.
    expect(await visible(secretary, '#grant-next')).to.equal(false);
    await secretary.select('#maket-bridge', DISTRICT);
    await secretary.$eval('#meeting-date', (el) => {
      (el as HTMLInputElement).value = '2021-11-26';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    const preview = await seen(secretary, '#maket-live');
    expect(preview).to.contain('THƯỜNG TRỰC HĐND HUYỆN BẮC SƠN');
    expect(preview).to.contain('Bắc Sơn, ngày 26 tháng 11 năm 2021');
    // Not applied yet: the halls still show the date blank.
    expect((await maketOf(displays.get(DISTRICT)!, 'slate-maket')).text).to.contain('Bắc Sơn, ngày ... tháng 11 năm 2021');
    await shot(secretary, '03-secretary-maket');
    await click(secretary, '#date-apply');
    await waitText(secretary, '#maket-msg', 'Đã lưu ngày họp.', 'date saved');
    for (const [id, place] of [[DISTRICT, 'Bắc Sơn'], [OTHER, 'Cao Minh'], [SPEAKER, 'Vạn Thủy']] as const) {
      await waitText(displays.get(id)!, '#slate-maket', `${place}, ngày 26 tháng 11 năm 2021`, `${id} maket date`);
    }
    // A colour change shows in the preview, reaches the halls when applied, and the plan's maket comes back on reset.
    await secretary.$eval('#maket-bg', (el) => {
      (el as HTMLInputElement).value = '#003399';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    expect(await secretary.$eval('#maket-live', (el) => getComputedStyle(el).backgroundColor)).to.equal('rgb(0, 51, 153)');
    await click(secretary, '#maket-apply');
    await waitText(secretary, '#maket-msg', 'Đã áp dụng maket cho mọi điểm cầu.', 'maket applied');
    await waitFor('district maket turns blue', async () => (await maketOf(displays.get(DISTRICT)!, 'slate-maket')).bg === 'rgb(0, 51, 153)');
    await click(secretary, '#maket-reset');
    await waitText(secretary, '#maket-msg', 'Đã khôi phục maket theo kế hoạch.', 'maket reset');
    const back = await waitFor('district maket red again', async () => {
      const m = await maketOf(displays.get(DISTRICT)!, 'slate-maket');
      return m.bg === RED ? m : undefined;
    });
    expect(back.fg).to.equal(YELLOW);
    expect(back.text).to.contain('Bắc Sơn, ngày 26 tháng 11 năm 2021');
    await secretary.close();
  });

  it('the chair starts the meeting', async () => {
    await click(chair, '#start-meeting');
    await waitText(chair, '#meeting-status', 'Đang họp', 'running');
    await waitText(panel, '#meeting-status', 'Đang họp', 'panel sees running');
    expect(await seen(chair, '#agenda li.current .a-title')).to.equal('Khai mạc Hội nghị');
  });

  it('a commune asks for the floor from its panel; the queue shows it and the chair reorders', async () => {
    await panel.$eval('#speaker-name', (el) => ((el as HTMLInputElement).value = ''));
    await type(panel, '#speaker-name', SPEAKER_NAME);
    await type(panel, '#speaker-title', SPEAKER_TITLE);
    await type(panel, '#topic', 'Kinh nghiệm tổ chức thực hiện nghị quyết của HĐND tỉnh');
    await click(panel, '#request');
    await waitText(panel, '#queue-position', '1', 'queue position 1');
    expect(await seen(panel, '#queued-speaker')).to.equal(`${SPEAKER_NAME}, ${SPEAKER_TITLE}`);
    await waitText(chair, `#queue li[data-bridge="${SPEAKER}"]`, `${SPEAKER_NAME}, ${SPEAKER_TITLE}`, 'request on the console');
    await waitText(chair, '#alerts', `Xã Vạn Thủy xin phát biểu: ${SPEAKER_NAME}`, 'request alert');
    // A second hall asks (from its display page's own control socket), then the chair moves it up and down.
    const other = await displays.get(OTHER)!.evaluate(
      (c) => (window as any).diemcau.control.command(c),
      { type: 'request_floor', bridgeId: OTHER, speakerName: OTHER_NAME, speakerTitle: 'Phó Chủ tịch HĐND xã Cao Minh' },
    );
    expect(other.ok).to.equal(true);
    await waitText(chair, '#queue li:nth-child(2)', '2. Xã Cao Minh', 'second request');
    await click(chair, `#queue li[data-bridge="${OTHER}"] button.up`);
    await waitText(chair, '#queue li:nth-child(1)', '1. Xã Cao Minh', 'moved up');
    await waitText(panel, '#queue-position', '2', 'panel sees position 2');
    await shot(chair, '04-chair-queue');
    await click(chair, `#queue li[data-bridge="${OTHER}"] button.down`);
    await waitText(chair, '#queue li:nth-child(1)', '1. Xã Vạn Thủy', 'moved back down');
    await waitText(panel, '#queue-position', '1', 'panel sees position 1 again');
  });

  it('the chair grants it: every display shows the commune with its own maket, the speaker and the countdown', async () => {
    await click(chair, `#queue li[data-bridge="${SPEAKER}"] button.grant`);
    await waitFor('media programme on the commune', async () => server.media.onAir === SPEAKER);
    const makets: Record<string, string> = { [DISTRICT]: 'HUYỆN BẮC SƠN', [OTHER]: 'XÃ CAO MINH', [SPEAKER]: 'XÃ VẠN THỦY' };
    const places: Record<string, string> = { [DISTRICT]: 'Bắc Sơn', [OTHER]: 'Cao Minh', [SPEAKER]: 'Vạn Thủy' };
    for (const [id, page] of displays) {
      if (id !== SPEAKER) {
        await waitFor(`${id} decodes the commune`, async () => {
          const v = (await pageVideo(page)).find((x) => x.slot === 'onair' && x.bridgeId === SPEAKER && x.kind === 'video');
          return v && v.framesDecoded > 3;
        }, 30_000);
      }
      const s = await waitFor(`${id} lower third`, async () => {
        const d = await displayState(page);
        return d.lowerThird && d.countdown ? d : undefined;
      });
      expect(s.slate).to.equal(null);
      expect(s.program).to.equal('Đang phát: Xã Vạn Thủy');
      expect(s.name).to.equal(SPEAKER_NAME);
      expect(s.title).to.equal(SPEAKER_TITLE);
      expect(s.bridge).to.equal('Điểm cầu xã Vạn Thủy');
      expect(s.countdown).to.match(/^(1:00|0:5\d)$/);
      expect(s.countdownClass).to.contain('normal');
      const maket = await maketOf(page, 'maket');
      expect(maket.text).to.contain(`THƯỜNG TRỰC HĐND ${makets[id]}`);
      expect(maket.text).to.contain('HỘI NGHỊ TRỰC TUYẾN');
      expect(maket.all).to.contain(`${places[id]}, ngày 26 tháng 11 năm 2021`);
      expect(maket.bg).to.equal(RED);
      expect(maket.fg).to.equal(YELLOW);
      await shot(page, `05-display-${id}-speaking`);
    }
    // The speaking hall's own display shows its camera, and its microphone is open.
    expect(await displays.get(SPEAKER)!.$eval('#program', (v) => (v as HTMLVideoElement).videoWidth > 0)).to.equal(true);
    await waitFor('speaker mic open', async () => (await pageState(displays.get(SPEAKER)!)).micOpen);
    // The panel: on air, its countdown, the yield button.
    await waitText(panel, '#speaking', 'ĐANG PHÁT BIỂU', 'panel on air');
    expect(await seen(panel, '#op-countdown')).to.match(/^(1:00|0:5\d)$/);
    expect(await visible(panel, '#yield')).to.equal(true);
    await waitText(panel, '#mic-air', 'Đang mở', 'panel sees the mic open');
    await shot(panel, '05-operator-speaking');
    // The chair: the speaker, the countdown, the programme preview of the commune.
    expect(await seen(chair, '#floor-speaker')).to.equal(SPEAKER_NAME);
    expect(await seen(chair, '#floor-bridge')).to.equal('Điểm cầu xã Vạn Thủy');
    expect(await seen(chair, '#chair-countdown')).to.match(/^(1:00|0:5\d)$/);
    await waitFor('chair preview decodes the commune', async () => {
      const v = (await pageVideo(chair)).find((x) => x.slot === 'onair' && x.bridgeId === SPEAKER && x.kind === 'video');
      return v && v.framesDecoded > 3;
    }, 30_000);
    await shot(chair, '05-chair-speaking');
  });

  it('the warning colour appears everywhere at 50 s left, and the chair is alerted', async () => {
    for (const [id, page] of displays) {
      const s = await waitFor(`${id} warning`, async () => {
        const d = await displayState(page);
        return d.countdownClass.includes('warning') ? d : undefined;
      }, 20_000);
      expect(s.countdown).to.match(/^0:(50|4\d)$/);
      expect(s.countdownBg).to.equal(WARNING_BG);
    }
    await waitFor('panel warning', () => panel.$eval('#op-countdown', (el) => el.className.includes('warning')));
    await waitFor('chair warning', () => chair.$eval('#chair-countdown', (el) => el.className.includes('warning')));
    expect(await chair.$eval('#chair-countdown', (el) => getComputedStyle(el).backgroundColor)).to.equal(WARNING_BG);
    await waitText(chair, '#alerts', 'Xã Vạn Thủy: còn 50 giây phát biểu', 'warning alert');
    await shot(displays.get(DISTRICT)!, '06-display-warning');
    await shot(chair, '06-chair-warning');
  });

  it('the chair pauses, resumes and extends by a minute', async () => {
    await click(chair, '#timer-pause');
    await waitFor('paused on a display', () => displays.get(OTHER)!.$eval('#countdown', (el) => el.className.includes('paused')));
    const frozen = await seen(displays.get(OTHER)!, '#countdown');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await seen(displays.get(OTHER)!, '#countdown')).to.equal(frozen);
    await click(chair, '#timer-resume');
    await waitFor('resumed', () => displays.get(OTHER)!.$eval('#countdown', (el) => !el.className.includes('paused')));
    await click(chair, 'button.extend[data-seconds="60"]');
    for (const [id, page] of displays) {
      const s = await waitFor(`${id} extended`, async () => {
        const d = await displayState(page);
        return /^1:[34]\d$/.test(d.countdown) ? d : undefined;
      });
      expect(s.countdownClass).to.contain('normal');
    }
  });

  it('the chair revokes; the next request is granted with one click and revoked', async () => {
    await click(chair, '#revoke');
    for (const [id, page] of displays) {
      await waitFor(`${id} lower third gone`, async () => !(await displayState(page)).lowerThird);
    }
    await waitFor('speaker mic closed', async () => !(await pageState(displays.get(SPEAKER)!)).micOpen);
    await waitFor('panel form back', () => visible(panel, '#request-form'));
    await click(chair, '#grant-next');
    await waitText(chair, '#floor-speaker', OTHER_NAME, 'next speaker on the console');
    await waitFor('district shows the next speaker', async () => (await displayState(displays.get(DISTRICT)!)).name === OTHER_NAME);
    await click(chair, '#revoke');
    await waitFor('floor free', () => visible(chair, '#floor-none'));
  });

  it('a commune drops out during the meeting: the chair sees it in the alerts and the roll-call', async () => {
    await displays.get(OTHER)!.close();
    displays.delete(OTHER);
    await waitText(chair, '#alerts', 'Xã Cao Minh mất kết nối', 'drop-out alert');
    expect(await chair.$eval('#alerts li:first-child', (li) => li.className)).to.contain('bad');
    await waitText(chair, '#rollcall-summary', 'Xã: 1/200 trực tuyến, 1 sẵn sàng', 'roll-call after the drop-out');
    // The technicians' link monitor says so too, in its own list.
    await waitText(chair, '#tech-alerts', 'Xã Cao Minh: mất kết nối', 'technician alert', 15_000);
    // Only halls that were on line and got worse: not the 200 that never joined.
    const tech = await chair.$$eval('#tech-alerts li', (lis) => lis.map((li) => (li as HTMLElement).innerText));
    expect(tech.every((t) => /Xã Cao Minh|Xã Vạn Thủy|Huyện Bắc Sơn/.test(t)), tech.join('\n')).to.equal(true);
    await shot(chair, '07-chair-drop-out');
  });

  it('a break shows the "Giải lao" slate in every hall, then the meeting goes on', async () => {
    await click(chair, '#break-start');
    for (const [id, page] of displays) {
      await waitFor(`${id} break slate`, async () => (await displayState(page)).slate === 'Giải lao');
    }
    const slate = await maketOf(displays.get(DISTRICT)!, 'slate-maket');
    expect(slate.text).to.contain('THƯỜNG TRỰC HĐND HUYỆN BẮC SƠN');
    expect([slate.bg, slate.fg]).to.deep.equal([RED, YELLOW]);
    await waitText(panel, '#meeting-status', 'Giải lao', 'panel sees the break');
    await shot(displays.get(DISTRICT)!, '07-display-break');
    await shot(chair, '07-chair-break');
    await click(chair, '#break-end');
    await waitText(chair, '#meeting-status', 'Đang họp', 'running again');
  });

  it('conclusion: the chair goes to the concluding item and ends the meeting', async () => {
    await click(chair, '#agenda li[data-item="ket-luan"] button.goto');
    await waitText(chair, '#agenda li.current .a-title', 'Chủ tọa kết luận Hội nghị', 'conclusion item');
    await waitText(panel, '#agenda-item', '8. Chủ tọa kết luận Hội nghị', 'panel sees the conclusion');
    await click(chair, '#end-meeting');
    // Ending is final: the first click only arms the button.
    expect(await seen(chair, '#end-meeting')).to.equal('Bấm lần nữa để kết thúc hội nghị');
    expect(await seen(chair, '#meeting-status')).to.equal('Đang họp');
    await click(chair, '#end-meeting');
    await waitText(chair, '#meeting-status', 'Đã kết thúc', 'ended');
    for (const [id, page] of displays) {
      await waitFor(`${id} ended slate`, async () => (await displayState(page)).slate === 'Hội nghị đã kết thúc');
    }
    await waitText(panel, '#meeting-status', 'Đã kết thúc', 'panel sees the end');
    expect(await panel.$eval('#request', (b) => (b as HTMLButtonElement).disabled)).to.equal(true);
    await shot(displays.get(DISTRICT)!, '08-display-ended');
    await shot(chair, '08-chair-ended');
    await shot(panel, '08-operator-ended');
    // The console on a laptop screen.
    await chair.setViewport({ width: 1366, height: 768 });
    await shot(chair, '09-chair-laptop');
  });
});
