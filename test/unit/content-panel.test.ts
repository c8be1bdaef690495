// The content panel the feed's re-encoder reads: the blank one is made in-process, a page is drawn
// by a limited child process (PDF.js on @napi-rs/canvas); both are checked by decoding them with ffmpeg.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ContentPanel, transparentPng } from '../../server/app/feed/ContentPanel.ts';
import { SystemClock } from '../../server/core/conference/index.ts';
import { PAGE_COLOURS, testPaper } from '../helpers/pdf-corpus.ts';

const run = promisify(execFile);

/** RGBA pixels of a PNG, decoded by ffmpeg. */
async function rgba(png: Buffer): Promise<Buffer> {
  const file = path.join(os.tmpdir(), `diemcau-panel-${process.pid}-${Math.random().toString(36).slice(2)}.png`);
  fs.writeFileSync(file, png);
  try {
    const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgba', 'pipe:1'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
    return stdout as Buffer;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe('ContentPanel: the page on screen for the feed', function () {
  this.timeout(30_000);

  it('the blank panel is a transparent frame-sized PNG', async () => {
    const pixels = await rgba(transparentPng(64, 36));
    expect(pixels.length).to.equal(64 * 36 * 4);
    expect(pixels.every((b) => b === 0)).to.equal(true);
  });

  it('a page is drawn in its box on an opaque panel, with a nearly transparent hole for the speaker; a bad file is refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-panel-test-'));
    const panel = new ContentPanel(1280, 720, new SystemClock());
    try {
      const file = path.join(dir, 'p.pdf');
      fs.writeFileSync(file, await testPaper(4));
      const pixels = await rgba(await panel.page('paperAAAAAAAAAAAA', file, 3));
      const at = (x: number, y: number) => [...pixels.subarray((y * 1280 + x) * 4, (y * 1280 + x) * 4 + 4)];
      const { page, speaker } = panel.layout;
      const [r, g, b] = PAGE_COLOURS[2]!;
      const mid = at(page.x + page.w / 2, page.y + Math.round(page.h * 0.75));
      expect(Math.abs(mid[0]! - r) + Math.abs(mid[1]! - g) + Math.abs(mid[2]! - b), `page 3's colour, got ${mid}`).to.be.below(30);
      expect(mid[3]).to.equal(255);
      const hole = at(speaker.x + speaker.w / 2, speaker.y + speaker.h / 2)[3]!;
      expect(hole).to.be.within(1, 16);
      expect(at(5, 700)[3], 'opaque around them').to.equal(255);
      fs.writeFileSync(path.join(dir, 'bad.pdf'), 'not a pdf');
      let refused = '';
      await panel.page('paperBBBBBBBBBBBB', path.join(dir, 'bad.pdf'), 1).catch((e: Error) => (refused = e.message));
      expect(refused).to.match(/content panel not drawn/);
    } finally {
      panel.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
