// PDFs for the paper tests, made by the tests themselves: good ones with pdf-lib (each page
// carrying a big distinctive colour and its number, so a test can tell from the pixels which
// page a display painted), and a corpus of malformed and hostile ones written byte by byte.
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { PDFDocument, PageSizes, StandardFonts, rgb } from 'pdf-lib';

/** The colour that fills most of page n (1-based) of a test paper: distinct per page. */
export const PAGE_COLOURS: readonly [number, number, number][] = [
  [200, 30, 30],
  [20, 160, 40],
  [30, 60, 210],
  [230, 170, 0],
  [150, 40, 170],
  [0, 170, 170],
];

/** A paper of `pages` pages of the given size (points), each page filled with its colour and numbered. */
export async function testPaper(pages: number, size: [number, number] = PageSizes.A4 as [number, number]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.HelveticaBold);
  for (let i = 0; i < pages; i++) {
    const page = doc.addPage(size);
    const [r, g, b] = PAGE_COLOURS[i % PAGE_COLOURS.length]!;
    const [w, h] = size;
    page.drawRectangle({ x: w * 0.1, y: h * 0.1, width: w * 0.8, height: h * 0.8, color: rgb(r / 255, g / 255, b / 255) });
    page.drawText(`Trang ${i + 1}`, { x: w * 0.2, y: h * 0.5, size: 60, font, color: rgb(1, 1, 1) });
  }
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

/** US Letter in points. */
export const LETTER: [number, number] = [612, 792];

/** A PDF file from object bodies (numbered from 1), with a correct cross-reference table unless told otherwise. */
export function rawPdf(objects: (string | Buffer)[], options: { rootRef?: string; count?: number } = {}): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  const offsets: number[] = [];
  let length = parts[0]!.length;
  objects.forEach((body, i) => {
    offsets.push(length);
    const chunk = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'), Buffer.from('\nendobj\n')]);
    parts.push(chunk);
    length += chunk.length;
  });
  const xref = [`xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`, ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`)].join('');
  parts.push(Buffer.from(`${xref}trailer\n<< /Size ${objects.length + 1} /Root ${options.rootRef ?? '1 0 R'} >>\nstartxref\n${length}\n%%EOF\n`));
  return Buffer.concat(parts);
}

/** A stream object with its dictionary entries and data. */
function stream(dict: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`<< ${dict} /Length ${data.length} >>\nstream\n`), data, Buffer.from('\nendstream')]);
}

/**
 * Zlib data that inflates to `totalMb` MiB of zeros while being about a thousandth of that:
 * one compressed block of 16 MiB of zeros, repeated (each ends byte-aligned with a sync flush),
 * then a final empty block. pdfjs does not check the Adler-32 trailer.
 */
export function zeroBomb(totalMb: number): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(16 * 1024 * 1024), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const blocks = Array.from({ length: Math.ceil(totalMb / 16) }, () => block);
  return Buffer.concat([Buffer.from([0x78, 0xda]), ...blocks, Buffer.from([0x03, 0x00]), Buffer.alloc(4)]);
}

const CATALOG = '<< /Type /Catalog /Pages 2 0 R >>';
const A4_BOX = '[0 0 595.28 841.89]';

/** The malformed and hostile files every checker must refuse, by name, with the code each is refused with. */
export async function malformedCorpus(): Promise<{ name: string; bytes: Buffer; codes: string[] }[]> {
  const good = await testPaper(2);
  return [
    // Cut before the page tree and the cross-reference table.
    { name: 'truncated', bytes: good.subarray(0, Math.floor(good.length * 0.2)), codes: ['pdf_damaged', 'no_pages'] },
    {
      name: 'page tree loop',
      bytes: rawPdf([CATALOG, '<< /Type /Pages /Kids [3 0 R] /Count 1 >>', '<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>']),
      codes: ['pdf_damaged'],
    },
    {
      name: 'enormous page count',
      bytes: rawPdf([CATALOG, '<< /Type /Pages /Kids [3 0 R] /Count 2000000000 >>', `<< /Type /Page /Parent 2 0 R /MediaBox ${A4_BOX} >>`]),
      codes: ['too_many_pages', 'pdf_damaged'],
    },
    {
      name: 'compression bomb in the content stream (4 GiB of zeros)',
      bytes: rawPdf([CATALOG, '<< /Type /Pages /Kids [3 0 R] /Count 1 >>', `<< /Type /Page /Parent 2 0 R /MediaBox ${A4_BOX} /Contents 4 0 R >>`, stream('/Filter /FlateDecode', zeroBomb(4096))]),
      codes: ['check_memory', 'check_timeout', 'pdf_damaged'],
    },
    {
      name: 'compression bomb in an image (a 60-megapixel image of zeros, drawn; 176 MiB from 180 kB)',
      bytes: rawPdf([
        CATALOG,
        '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        `<< /Type /Page /Parent 2 0 R /MediaBox ${A4_BOX} /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>`,
        stream('', Buffer.from('q 500 0 0 700 40 70 cm /Im1 Do Q')),
        stream('/Type /XObject /Subtype /Image /Width 8000 /Height 7500 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode', zeroBomb(176)),
      ]),
      codes: ['image_too_large', 'check_memory', 'check_timeout'],
    },
    {
      name: 'deeply nested objects',
      bytes: rawPdf([CATALOG, '<< /Type /Pages /Kids [3 0 R] /Count 1 >>', `<< /Type /Page /Parent 2 0 R /MediaBox ${A4_BOX} /Annots ${'['.repeat(200_000)}${']'.repeat(200_000)} >>`]),
      codes: ['pdf_damaged', 'check_memory'],
    },
    { name: 'garbage after a valid header', bytes: Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(256 * 1024)]), codes: ['pdf_damaged', 'no_pages'] },
  ];
}
