// Paper files judged against the plan's rules: the checker (server/app/papers) measures a file
// (page count, each page's box); these pure rules say whether it is a paper the plan accepts,
// and if not, why, with a stable code.
import { A4_MM, PT_PER_MM, type PaperRules } from './papers.ts';

/** A page as the checker measured it: the visible box in points, its rotation, its user unit. */
export interface MeasuredPage {
  widthPt: number;
  heightPt: number;
  rotate: number;
  userUnit: number;
}

/** Why a file is refused, with what the person needs to know; `code` is stable. */
export type PaperFault =
  | { code: 'not_pdf' }
  | { code: 'empty_file' }
  | { code: 'too_large'; bytes: number; maxBytes: number }
  | { code: 'no_pages' }
  | { code: 'too_many_pages'; pages: number; maxPages: number }
  | { code: 'not_a4'; page: number; widthMm: number; heightMm: number; format: string | null; allPages: boolean }
  | { code: 'landscape'; page: number }
  | { code: 'pdf_damaged'; detail: string }
  | { code: 'pdf_encrypted' }
  | { code: 'image_too_large'; maxPixels: number }
  | { code: 'check_timeout'; limitMs: number }
  | { code: 'check_memory'; limitMb: number };

/** Stable codes of refused papers. */
export type PaperFaultCode = PaperFault['code'];

/** Paper sizes people know by name (portrait, mm), to say "Letter" rather than "216 × 279 mm". */
const NAMED_FORMATS: readonly { name: string; width: number; height: number }[] = [
  { name: 'A4', width: 210, height: 297 },
  { name: 'Letter', width: 215.9, height: 279.4 },
  { name: 'Legal', width: 215.9, height: 355.6 },
  { name: 'A3', width: 297, height: 420 },
  { name: 'A5', width: 148, height: 210 },
  { name: 'B5', width: 176, height: 250 },
  { name: 'B4', width: 250, height: 353 },
];

/** The name of a page size (either orientation), within 2 mm, or null. */
export function formatName(widthMm: number, heightMm: number): string | null {
  const [w, h] = widthMm <= heightMm ? [widthMm, heightMm] : [heightMm, widthMm];
  return NAMED_FORMATS.find((f) => Math.abs(f.width - w) <= 2 && Math.abs(f.height - h) <= 2)?.name ?? null;
}

/** Judges a measured file against the rules: the first fault, or null when the paper is acceptable. */
export function judgePaper(rules: PaperRules, measured: { bytes: number; pageCount: number; pages: readonly MeasuredPage[] }): PaperFault | null {
  if (measured.bytes > rules.maxBytes) return { code: 'too_large', bytes: measured.bytes, maxBytes: rules.maxBytes };
  if (measured.pageCount < 1) return { code: 'no_pages' };
  if (measured.pageCount > rules.maxPages) return { code: 'too_many_pages', pages: measured.pageCount, maxPages: rules.maxPages };
  const sizes = measured.pages.map((p) => {
    const unit = p.userUnit > 0 ? p.userUnit : 1;
    const w = (Math.abs(p.widthPt) * unit) / PT_PER_MM;
    const h = (Math.abs(p.heightPt) * unit) / PT_PER_MM;
    // A page rotated by 90° or 270° is shown the other way round.
    return ((p.rotate % 180) + 180) % 180 === 90 ? { w: h, h: w } : { w, h };
  });
  const isA4 = (s: { w: number; h: number }): boolean => {
    const [short, long] = s.w <= s.h ? [s.w, s.h] : [s.h, s.w];
    return Math.abs(short - A4_MM.width) <= rules.toleranceMm && Math.abs(long - A4_MM.height) <= rules.toleranceMm;
  };
  const bad = sizes.findIndex((s) => !isA4(s));
  if (bad >= 0) {
    const s = sizes[bad]!;
    return {
      code: 'not_a4',
      page: bad + 1,
      widthMm: Math.round(s.w),
      heightMm: Math.round(s.h),
      format: formatName(s.w, s.h),
      allPages: sizes.every((x) => !isA4(x)),
    };
  }
  if (!rules.landscape) {
    const wide = sizes.findIndex((s) => s.w > s.h);
    if (wide >= 0) return { code: 'landscape', page: wide + 1 };
  }
  return null;
}

