// Maket hội nghị: the banner shown in every hall, filled for that hall's tier and locality.
import { splitUnitName, type ConferencePlan, type MaketPlaceholder } from '../protocol/plan.ts';

/** The banner of one hall, ready to draw. */
export type Maket = { background: string; textColour: string; lines: string[] };

/** The part of a plan the banner depends on. */
export type MaketSource = Pick<ConferencePlan, 'title' | 'date' | 'tentativeMonth' | 'bridges' | 'maket'>;

/** Shown in place of a date part that is not announced yet ("ngày ... tháng 11 năm 2021"). */
export const MAKET_BLANK = '...';

/** Raised when a banner is asked for a bridge the plan does not have. */
export class UnknownBridgeError extends Error {
  readonly code = 'unknown_bridge' as const;

  constructor(readonly bridgeId: string) {
    super(`bridge not found [bridgeId:${bridgeId}]`);
    this.name = 'UnknownBridgeError';
  }
}

/** Vietnamese capitals with diacritics kept: "Huyện Đình Lập" -> "HUYỆN ĐÌNH LẬP". */
export function toVietnameseUpper(s: string): string {
  return s.normalize('NFC').toLocaleUpperCase('vi');
}

/**
 * Day, month, year of an ISO date as written in Vietnamese administrative documents
 * (Nghị định 30/2020/NĐ-CP): a day below 10 and the months 1 and 2 take a leading zero.
 */
export function vietnameseDateParts(isoDate: string): { DD: string; MM: string; YYYY: string } {
  const [yyyy, mm, dd] = isoDate.split('-');
  const day = Number(dd);
  const month = Number(mm);
  return {
    DD: String(day).padStart(2, '0'),
    MM: month <= 2 ? String(month).padStart(2, '0') : String(month),
    YYYY: yyyy!,
  };
}

// Date parts for the banner: from the date, else month/year from tentativeMonth, else blanks.
function dateParts(plan: MaketSource): { DD: string; MM: string; YYYY: string } {
  if (plan.date) return vietnameseDateParts(plan.date);
  if (plan.tentativeMonth) {
    const { MM, YYYY } = vietnameseDateParts(`${plan.tentativeMonth}-01`);
    return { DD: MAKET_BLANK, MM, YYYY };
  }
  return { DD: MAKET_BLANK, MM: MAKET_BLANK, YYYY: MAKET_BLANK };
}

/** Fills the plan's maket template for one bridge: organiser line of that hall, its place and the date. */
export function renderMaket(plan: MaketSource, bridgeId: string): Maket {
  const bridge = plan.bridges.find((b) => b.id === bridgeId);
  if (!bridge) throw new UnknownBridgeError(bridgeId);
  const locality = bridge.name.normalize('NFC');
  // The schema guarantees a known prefix; fall back to the whole name for unvalidated input.
  const place = splitUnitName(bridge.tier, locality)?.place ?? locality;
  const values: Record<MaketPlaceholder, string> = {
    LOCALITY: locality,
    LOCALITY_UPPER: toVietnameseUpper(locality),
    PLACE: place,
    TITLE: plan.title,
    TITLE_UPPER: toVietnameseUpper(plan.title),
    ...dateParts(plan),
  };
  const lines = plan.maket.lines.map((line) =>
    line.replace(/\{([A-Z_]+)\}/g, (whole, name: string) =>
      Object.hasOwn(values, name) ? values[name as MaketPlaceholder] : whole,
    ),
  );
  return { background: plan.maket.background, textColour: plan.maket.textColour, lines };
}
