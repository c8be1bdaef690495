// @ts-check
// Measures one PDF for the paper checker, in a child process of its own (PdfChecker.ts starts it
// under an address-space limit, a CPU limit and a wall-clock limit, and kills it past them).
//
// Plain JavaScript on purpose: the child must start fast and inside a hard address-space limit,
// which the TypeScript loader (an esbuild service) does not fit in; it only measures and prints
// one JSON line, the rules that judge the measures are in server/core/conference/papers.ts.
//
// Usage: node pdf-measure.mjs FILE MAX_PAGES MAX_IMAGE_PIXELS
// Prints {"ok":true,"pageCount":n,"pages":[{widthPt,heightPt,rotate,userUnit}]} or
// {"ok":false,"code":"pdf_damaged"|"pdf_encrypted"|"image_too_large"|"check_memory","detail":"..."}.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { withoutNetwork } from './pdf-child.mjs';

// The checker draws nothing: keep pdfjs from loading its optional native canvas (a native
// library in the sandbox, and memory the address-space limit would have to allow for).
const Module = /** @type {any} */ (process.getBuiltinModule('module'));
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (/** @type {string} */ request, /** @type {unknown[]} */ ...rest) {
  if (request === '@napi-rs/canvas') throw Object.assign(new Error('no canvas in the paper checker'), { code: 'MODULE_NOT_FOUND' });
  return resolveFilename.call(this, request, ...rest);
};

withoutNetwork('the paper checker');

/** The child's peak address space, MB (what its limit must leave room for). */
function vmPeakMb() {
  const m = /^VmPeak:\s+(\d+) kB/m.exec(process.getBuiltinModule('fs').readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : null;
}

/** @param {object} answer */
function answer(answer) {
  process.stdout.write(`${JSON.stringify({ ...answer, vmPeakMb: vmPeakMb() })}\n`);
}

/** @param {unknown} error */
function classify(error) {
  const e = /** @type {{ name?: string; message?: string }} */ (error ?? {});
  const message = String(e.message ?? error).slice(0, 300);
  if (e.name === 'PasswordException') return { ok: false, code: 'pdf_encrypted', detail: message };
  if (/Image exceeded maximum allowed size/.test(message)) return { ok: false, code: 'image_too_large', detail: message };
  if (e instanceof RangeError && /allocation failed|Invalid array length|Invalid typed array length|out of memory/i.test(message)) {
    return { ok: false, code: 'check_memory', detail: message };
  }
  return { ok: false, code: 'pdf_damaged', detail: `${e.name ?? 'Error'}: ${message}` };
}

// pdfjs repairs some damage with only a warning; a page tree whose /Count is not what it holds
// is such damage (a display would show other pages than the file claims), so it is refused.
/** @type {string[]} */
const damage = [];
const warn = console.warn.bind(console);
console.warn = (/** @type {unknown[]} */ ...args) => {
  const line = args.map(String).join(' ');
  if (/invalid \/Pages tree \/Count/.test(line)) damage.push(line.slice(0, 200));
  else warn(...args);
};

/**
 * The largest image a page draws, in pixels.
 * @param {Record<string, number>} OPS
 * @param {{ fnArray: number[]; argsArray: any[] }} ops
 */
function largestImage(OPS, ops) {
  const drawsImage = new Set([OPS.paintImageXObject, OPS.paintImageXObjectRepeat, OPS.paintInlineImageXObject, OPS.paintImageMaskXObject, OPS.paintInlineImageXObjectGroup]);
  let largest = 0;
  ops.fnArray.forEach((fn, i) => {
    if (!drawsImage.has(fn)) return;
    const args = ops.argsArray[i] ?? [];
    const first = args[0];
    const w = typeof args[1] === 'number' ? args[1] : first?.width;
    const h = typeof args[2] === 'number' ? args[2] : first?.height;
    if (typeof w === 'number' && typeof h === 'number') largest = Math.max(largest, w * h);
  });
  return largest;
}

async function main() {
  const [file, maxPagesArg, maxImageArg] = process.argv.slice(2);
  const maxPages = Number(maxPagesArg);
  const maxImageSize = Number(maxImageArg);
  if (!file || !Number.isInteger(maxPages) || maxPages < 1 || !Number.isInteger(maxImageSize)) throw new Error('usage: pdf-measure.mjs FILE MAX_PAGES MAX_IMAGE_PIXELS');
  const pdfjsUrl = import.meta.resolve('pdfjs-dist/legacy/build/pdf.mjs');
  const root = fileURLToPath(new URL('../../', pdfjsUrl));
  const pdfjs = await import(pdfjsUrl);
  const data = new Uint8Array(await readFile(file));
  const task = pdfjs.getDocument({
    data,
    // Strict: an error anywhere is a refusal, not a page drawn half.
    stopAtErrors: true,
    disableFontFace: true,
    useSystemFonts: false,
    // Warnings on (they reach console.warn above); errors are thrown anyway.
    verbosity: 1,
    // No limit here: pdfjs drops a larger image from the page without failing; the checker
    // decodes it (inside the memory limit) and refuses the file below.
    maxImageSize: -1,
    standardFontDataUrl: `${root}standard_fonts/`,
    cMapUrl: `${root}cmaps/`,
    cMapPacked: true,
  });
  let doc;
  try {
    doc = await task.promise;
    const pageCount = doc.numPages;
    /** @type {{ widthPt: number; heightPt: number; rotate: number; userUnit: number }[]} */
    const pages = [];
    // More pages than allowed: the count is the answer, no page needs reading.
    if (pageCount <= maxPages) {
      for (let n = 1; n <= pageCount; n++) {
        const page = await doc.getPage(n);
        const [x0, y0, x1, y1] = page.view;
        pages.push({ widthPt: Math.abs(x1 - x0), heightPt: Math.abs(y1 - y0), rotate: page.rotate, userUnit: page.userUnit ?? 1 });
        // Everything a display will decode to draw the page: content streams, fonts, images.
        const ops = await page.getOperatorList();
        const pixels = largestImage(pdfjs.OPS, ops);
        if (pixels > maxImageSize) {
          answer({ ok: false, code: 'image_too_large', detail: `page ${n}: an image of ${pixels} pixels` });
          return;
        }
        page.cleanup();
      }
    }
    if (damage.length > 0) answer({ ok: false, code: 'pdf_damaged', detail: damage[0] });
    else answer({ ok: true, pageCount, pages });
  } catch (error) {
    answer(classify(error));
  } finally {
    await task.destroy().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    answer(classify(error));
    process.exit(0);
  },
);
