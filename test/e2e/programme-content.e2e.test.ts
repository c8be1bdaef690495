// The page on screen in the programme output: the press feed and the recording show the paper's
// page beside the speaker, page turns and all, and the recording's chapters note which paper and
// which pages were shown. Real mediasoup, a Chromium hall speaking, real ffmpeg decoding the
// press feed; the pages are told apart by their colour blocks (test/helpers/pdf-corpus.ts).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { RecordingIndex } from '../../server/app/feed/FeedDesk.ts';
import { pressFeedSdp, parsePressFeed } from '../../server/app/feed/FeedOutput.ts';
import { freeUdpPorts } from '../../server/app/feed/ffmpeg.ts';
import { contentLayout, type Box } from '../../server/app/feed/layout.ts';
import { paperSlots } from '../../server/core/conference/index.ts';
import type { RunningServer } from '../../server/app/server.ts';
import type { Principal } from '../../server/protocol/control.ts';
import { inviteUrl, startTestServer, tokenOf } from '../helpers/server.ts';
import { launchChromium, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { waitLive } from '../helpers/hall-page.ts';
import { PAGE_COLOURS, testPaper } from '../helpers/pdf-corpus.ts';

const run = promisify(execFile);
const COMMUNE = 'c-06010'; // Xã Cao Minh, which presents a paper
const CHAIR: Principal = { role: 'chair' };
const SECRETARY: Principal = { role: 'secretary' };
const W = 1280;
const H = 720;
const PANEL_BLUE: [number, number, number] = [11, 42, 91];

/** The press feed decoded by ffmpeg, two RGB frames a second; the last one kept. */
class PressGrabber {
  readonly child: ChildProcess;
  last: { at: number; rgb: Buffer } | undefined;
  #pending = Buffer.alloc(0);
  constructor(sdpFile: string) {
    this.child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-i', sdpFile, '-map', '0:v', '-vf', `fps=4,scale=${W}:${H}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const size = W * H * 3;
    this.child.stdout!.on('data', (c: Buffer) => {
      this.#pending = Buffer.concat([this.#pending, c]);
      while (this.#pending.length >= size) {
        this.last = { at: Date.now(), rgb: Buffer.from(this.#pending.subarray(0, size)) };
        this.#pending = this.#pending.subarray(size);
      }
    });
  }
}

/** Share of the pixels of a region of an RGB frame within `tolerance` of a colour. */
function share(rgb: Buffer, box: Box, colour: readonly number[], tolerance = 40): number {
  return shareAt(rgb, W, box, colour, tolerance);
}

/** The same, in a frame `width` pixels wide. */
function shareAt(rgb: Buffer, width: number, box: Box, colour: readonly number[], tolerance = 40): number {
  let hit = 0;
  for (let y = box.y; y < box.y + box.h; y++) {
    for (let x = box.x; x < box.x + box.w; x++) {
      const i = (y * width + x) * 3;
      if (Math.abs(rgb[i]! - colour[0]!) < tolerance && Math.abs(rgb[i + 1]! - colour[1]!) < tolerance && Math.abs(rgb[i + 2]! - colour[2]!) < tolerance) hit++;
    }
  }
  return hit / (box.w * box.h);
}

describe('e2e: the page on screen in the press feed and the recording (Chromium, mediasoup, ffmpeg)', function () {
  this.timeout(180_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  let grabber: PressGrabber | undefined;
  let dir: string;
  let paperId: string;
  let pressPort: number;
  const layout = contentLayout(W, H);
  // The lower middle of the page's colour block (the page is A4 portrait, centred in its box;
  // the block covers 80 % of it, its "Trang N" text is across the middle) and the speaker's box,
  // inside their margins.
  const pageBlock: Box = { x: layout.page.x + layout.page.w / 2 - 80, y: layout.page.y + 300, w: 160, h: 150 };
  const speakerBox: Box = { x: layout.speaker.x + 20, y: layout.speaker.y + 20, w: layout.speaker.w - 40, h: layout.speaker.h - 40 };
  const ok = async (principal: Principal, command: Parameters<RunningServer['conference']['execute']>[1]) => {
    const r = await server.conference.execute(principal, command);
    expect(r.ok, `${command.type}: ${JSON.stringify(r)}`).to.equal(true);
  };
  /** Waits for a decoded frame of the feed (newer than `after`) that passes `test`. */
  const frameWhere = (what: string, after: number, test: (rgb: Buffer) => boolean) =>
    waitFor(what, async () => (grabber!.last && grabber!.last.at > after && test(grabber!.last.rgb) ? grabber!.last.rgb : undefined), 30_000);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-content-feed-'));
    pressPort = await freeUdpPorts(2);
    server = await startTestServer(2, { pressFeed: `rtp://127.0.0.1:${pressPort}`, recordingsDir: path.join(dir, 'recordings'), feedPreset: 'superfast' });
    chromium = await launchChromium();
    const hall = await chromium.browser.newPage();
    await hall.setViewport({ width: 640, height: 360 });
    await hall.goto(await inviteUrl(server, COMMUNE));
    await waitLive(hall, COMMUNE);
    const slot = paperSlots(server.conference.runner.state.config).find((s) => s.bridgeId === COMMUNE)!;
    const res = await fetch(`${server.url}/api/papers/slots/${slot.slotId}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await tokenOf(server, 'secretary')}`, 'content-type': 'application/pdf' },
      body: new Uint8Array(await testPaper(4)),
    });
    const answer = (await res.json()) as { paper: { paperId: string } };
    expect(res.status, JSON.stringify(answer)).to.equal(201);
    paperId = answer.paper.paperId;
    const sdp = path.join(dir, 'press.sdp');
    fs.writeFileSync(sdp, pressFeedSdp(parsePressFeed(`rtp://127.0.0.1:${pressPort}`)));
    grabber = new PressGrabber(sdp);
    await waitFor('the press feed decodes', async () => grabber!.last !== undefined, 30_000);
  });

  after(async () => {
    grabber?.child.kill('SIGKILL');
    await chromium?.close();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the page shown, turned and taken down is in the press feed beside the speaker; the chapters say which pages', async () => {
    await ok(SECRETARY, { type: 'recording_start' });
    await ok(CHAIR, { type: 'start_meeting' });
    await ok(SECRETARY, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch HĐND xã Cao Minh' });
    await ok(CHAIR, { type: 'grant_floor', requestId: server.conference.runner.state.queue.find((q) => q.bridgeId === COMMUNE)!.id });
    const output = await server.conference.feed.output();
    await waitFor('the feed shows the commune', async () => output.showing === 'speaker' || undefined, 20_000);
    // Before: the speaker full frame, no page.
    let t = Date.now();
    const before = await frameWhere('a frame before the page', t, () => true);
    expect(share(before, pageBlock, PAGE_COLOURS[1]!)).to.be.below(0.1);

    // The speaking hall's operator shows page 2 of its paper.
    t = Date.now();
    await ok({ role: 'operator', bridgeId: COMMUNE }, { type: 'content_show', paperId, page: 2 });
    const shown = await frameWhere('page 2 in the press feed', t, (rgb) => share(rgb, pageBlock, PAGE_COLOURS[1]!) > 0.8);
    const shownMs = Date.now() - t;
    // The speaker is in its box beside the page: moving picture there, not the panel's background.
    expect(share(shown, speakerBox, PANEL_BLUE, 20)).to.be.below(0.2);
    expect(share(shown, { x: layout.page.x - 10, y: layout.page.y + 300, w: 8, h: 100 }, PANEL_BLUE, 20), 'the panel between them').to.be.above(0.8);

    t = Date.now();
    await ok({ role: 'operator', bridgeId: COMMUNE }, { type: 'content_page', page: 3 });
    await frameWhere('page 3 in the press feed', t, (rgb) => share(rgb, pageBlock, PAGE_COLOURS[2]!) > 0.8);
    const turnedMs = Date.now() - t;
    await new Promise((r) => setTimeout(r, 3000));

    t = Date.now();
    await ok({ role: 'operator', bridgeId: COMMUNE }, { type: 'content_clear' });
    const cleared = await frameWhere('the speaker full frame again', t, (rgb) => share(rgb, pageBlock, PAGE_COLOURS[2]!) < 0.1 && share(rgb, pageBlock, PANEL_BLUE, 20) < 0.1);
    expect(share(cleared, speakerBox, PANEL_BLUE, 20)).to.be.below(0.2);
    await new Promise((r) => setTimeout(r, 2000));
    console.log(`      page in the press feed ${shownMs} ms after the command, page turn ${turnedMs} ms (frames at 4/s)`);

    const done = new Promise<RecordingIndex>((resolve) => server.conference.feed.once('recorded', resolve));
    await ok(SECRETARY, { type: 'recording_stop' });
    const recorded = await done;
    const speech = recorded.chapters.find((c) => c.kind === 'speech' && c.bridgeId === COMMUNE)!;
    expect(speech.shown).to.deep.equal([{ kind: 'document', paperId, slotId: paperSlots(server.conference.runner.state.config).find((s) => s.bridgeId === COMMUNE)!.slotId, bridgeId: COMMUNE, pages: [2, 3] }]);
    expect(speech.title).to.match(/\[trình chiếu: tham luận của điểm cầu xã Cao Minh, trang 2, 3\]$/);
    // The file's own chapters carry the same titles.
    const file = path.join(dir, 'recordings', recorded.file);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_chapters', '-of', 'json', file]);
    const titles = (JSON.parse(stdout) as { chapters: { tags: { title: string } }[] }).chapters.map((c) => c.tags.title);
    expect(titles).to.include(speech.title);
    // And the recording has the pages in it, in order: its frames, two a second, at half size.
    const frames = await run('ffmpeg', ['-v', 'error', '-i', file, '-vf', `fps=2,scale=${W / 2}:${H / 2}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 });
    const size = (W / 2) * (H / 2) * 3;
    const all = frames.stdout as Buffer;
    const half: Box = { x: pageBlock.x / 2, y: pageBlock.y / 2, w: pageBlock.w / 2, h: pageBlock.h / 2 };
    const shares = (colour: readonly number[]) => {
      const out: number[] = [];
      for (let at = 0; at + size <= all.length; at += size) out.push(shareAt(all.subarray(at, at + size), W / 2, half, colour));
      return out;
    };
    const page2 = shares(PAGE_COLOURS[1]!).findIndex((x) => x > 0.8);
    const page3 = shares(PAGE_COLOURS[2]!).findIndex((x) => x > 0.8);
    expect(page2, 'page 2 in the recording').to.be.at.least(0);
    expect(page3, 'page 3 in the recording, after page 2').to.be.above(page2);
  });
});
