// The feed's wire on its own (in this thread, no SFU: the relay's slate and silence), with real
// ffmpeg: the content panel is composited only while content is shown, switched live through the
// re-encoder's zmq filter; the page shows in the picture when it is on, and the speaker's frame
// (here the slate) full frame when it is off.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { systemClock } from '../../server/core/conference/index.ts';
import { FeedWire } from '../../server/app/feed/FeedWire.ts';
import { contentLayout } from '../../server/app/feed/layout.ts';
import { ffmpegHasFilter } from '../../server/app/feed/ffmpeg.ts';
import { waitFor } from './media-fixture.ts';

const run = promisify(execFile);
const W = 640;
const H = 360;

/** An opaque white panel (a page over the whole frame; ContentPanel's leaves a hole for the speaker, not needed here). */
async function pagePanel(dir: string): Promise<Buffer> {
  const file = path.join(dir, 'page.png');
  await run('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=white:s=${W}x${H},format=rgba`, '-frames:v', '1', file]);
  return fs.readFileSync(file);
}

/** The RGB of one pixel of a picture near the end of a 2-second cut of MPEG-TS. */
async function pixel(ts: Buffer, dir: string, x: number, y: number): Promise<[number, number, number]> {
  const file = path.join(dir, `cut-${Date.now()}.ts`);
  fs.writeFileSync(file, ts);
  // Decoded from the cut's first keyframe (one a second); the picture 1.5 s into the cut.
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', file, '-ss', '1.5', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 8 * 1024 * 1024 });
  const i = (y * W + x) * 3;
  return [stdout[i]!, stdout[i + 1]!, stdout[i + 2]!];
}

describe('feed wire: the content panel composited only while shown (ffmpeg, zmq filter)', function () {
  this.timeout(60_000);
  let wire: FeedWire | undefined;
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-feed-wire-'));
  });
  after(async () => {
    await wire?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('switches the compositing on with a page and off without, and the picture follows', async function () {
    if (!(await ffmpegHasFilter('zmq'))) this.skip(); // Debian's ffmpeg has it (scripts/setup.sh)
    wire = await FeedWire.create(
      {
        chairBridgeId: 'p-20', width: W, height: H, fps: 25, videoKbps: 600, preset: 'ultrafast', maketBackground: '#c00000', maketText: '#ffde00',
        overlay: { maket: ['HỘI NGHỊ'], lowerThird: ['Chủ tọa', 'Tỉnh'] }, panel: null,
      },
      systemClock,
    );
    const problems: string[] = [];
    wire.on('problem', (m) => problems.push(m));
    const chunks: Buffer[] = [];
    wire.on('ts', (packets) => chunks.push(Buffer.from(packets)));
    wire.start();
    const w = wire;
    await waitFor('the feed flows', () => w.stats().bytesOut > 50_000, 20_000);
    expect(w.stats().compositing).to.equal(false);
    // A point of the page: right of the speaker's box and of the slate's text, below the maket band.
    const { page } = contentLayout(W, H);
    const at = { x: Math.round(page.x + page.w * 0.8), y: Math.round(page.y + page.h / 2) };
    const look = async (): Promise<[number, number, number]> => {
      const from = chunks.length;
      await new Promise((r) => setTimeout(r, 2000));
      return pixel(Buffer.concat(chunks.slice(from)), dir, at.x, at.y);
    };
    const isWhite = (p: number[]): boolean => p.every((c) => c > 200);
    expect(isWhite(await look()), 'no page before').to.equal(false);

    wire.setPanel(await pagePanel(dir));
    expect(w.stats().compositing).to.equal(true);
    const on = await look();
    expect(isWhite(on), `the page is in the picture (${on.join(',')})`).to.equal(true);

    wire.setPanel(null);
    expect(w.stats().compositing).to.equal(false);
    const off = await look();
    expect(isWhite(off), `the page is gone (${off.join(',')})`).to.equal(false);
    expect(problems).to.deep.equal([]);
  });
});
