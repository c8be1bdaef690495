// @ts-check
// Draws the content panel of the programme picture for the feed's re-encoder, in a child
// process of its own (ContentPanel.ts starts it under an address-space, CPU and wall-clock
// limit): one page of a checked paper, rendered with pdfjs-dist on @napi-rs/canvas, on a dark
// background the size of the frame, with a nearly transparent hole where the speaker's picture
// goes (the encoder reads the panel's alpha as its mask: transparent everywhere is "no content",
// the blank panel ContentPanel makes itself).
//
// Plain JavaScript for the same reason as pdf-measure.mjs: the child starts fast, without the
// TypeScript loader, inside a hard address-space limit.
//
// Usage: node content-panel.mjs OUT.png WIDTH HEIGHT SPEAKER(x,y,w,h) PAGEBOX(x,y,w,h) FILE PAGE
// Prints one JSON line: {"ok":true} or {"ok":false,"detail":"..."}.
import { readFile, writeFile, rename } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { withoutNetwork } from '../papers/pdf-child.mjs';

withoutNetwork('the content panel');

/** @param {string} s */
function box(s) {
  const [x, y, w, h] = s.split(',').map(Number);
  if (![x, y, w, h].every((n) => Number.isInteger(n) && n >= 0)) throw new Error(`bad box ${s}`);
  return { x: /** @type {number} */ (x), y: /** @type {number} */ (y), w: /** @type {number} */ (w), h: /** @type {number} */ (h) };
}

async function main() {
  const [out, widthArg, heightArg, speakerArg, pageBoxArg, file, pageArg] = process.argv.slice(2);
  const width = Number(widthArg);
  const height = Number(heightArg);
  if (!out || !Number.isInteger(width) || !Number.isInteger(height) || !speakerArg || !pageBoxArg || !file || !pageArg) throw new Error('usage: content-panel.mjs OUT WIDTH HEIGHT SPEAKER PAGEBOX FILE PAGE');
  const speaker = box(speakerArg);
  const pageBox = box(pageBoxArg);
  const { createCanvas } = await import('@napi-rs/canvas');
  const canvas = createCanvas(width, height);
  const g = canvas.getContext('2d');
  {
    const pdfjsUrl = import.meta.resolve('pdfjs-dist/legacy/build/pdf.mjs');
    const root = fileURLToPath(new URL('../../', pdfjsUrl));
    const pdfjs = await import(pdfjsUrl);
    const task = pdfjs.getDocument({
      data: new Uint8Array(await readFile(file)),
      isEvalSupported: false,
      verbosity: 0,
      standardFontDataUrl: `${root}standard_fonts/`,
      cMapUrl: `${root}cmaps/`,
      cMapPacked: true,
    });
    try {
      const doc = await task.promise;
      const page = await doc.getPage(Number(pageArg));
      const unit = page.getViewport({ scale: 1 });
      const scale = Math.min(pageBox.w / unit.width, pageBox.h / unit.height);
      const viewport = page.getViewport({ scale });
      const pw = Math.floor(viewport.width);
      const ph = Math.floor(viewport.height);
      const pageCanvas = createCanvas(pw, ph);
      const pg = pageCanvas.getContext('2d');
      pg.fillStyle = '#ffffff';
      pg.fillRect(0, 0, pw, ph);
      await page.render({ canvasContext: /** @type {any} */ (pg), canvas: /** @type {any} */ (pageCanvas), viewport }).promise;
      g.fillStyle = '#0b2a5b';
      g.fillRect(0, 0, width, height);
      g.drawImage(pageCanvas, pageBox.x + Math.floor((pageBox.w - pw) / 2), pageBox.y + Math.floor((pageBox.h - ph) / 2));
      // The speaker's hole: alpha 8/255, so the mask (alpha > 0) still says "content on".
      g.clearRect(speaker.x, speaker.y, speaker.w, speaker.h);
      g.fillStyle = 'rgba(0, 0, 0, 0.032)';
      g.fillRect(speaker.x, speaker.y, speaker.w, speaker.h);
    } finally {
      await task.destroy().catch(() => undefined);
    }
  }
  const tmp = `${out}.tmp`;
  await writeFile(tmp, canvas.toBuffer('image/png'));
  await rename(tmp, out);
}

main().then(
  () => {
    process.stdout.write('{"ok":true}\n');
    process.exit(0);
  },
  (error) => {
    process.stdout.write(`${JSON.stringify({ ok: false, detail: String(error?.message ?? error).slice(0, 300) })}\n`);
    process.exit(0);
  },
);
