// Checks on command arguments: decide receives whatever the wire carried, so nothing is trusted.
import type { Actor, MaketOverride } from './types.ts';

// The limits of what people type, one source for the core, the wire schemas
// (server/protocol/control.ts, plan.ts) and the input fields of the apps. Lengths count
// characters of the NFC form, after trimming.

/** A speaker's name: Vietnamese full names are short; 120 leaves room for a name with its honorific. */
export const MAX_SPEAKER_NAME = 120;
/**
 * A speaker's title: official titles run long ("Ủy viên Ban Thường vụ Huyện ủy, Phó Chủ tịch
 * Thường trực HĐND huyện, Trưởng Ban Pháp chế HĐND huyện Cao Lộc" is about 110 characters).
 */
export const MAX_SPEAKER_TITLE = 200;
/** The topic of a speech: one sentence, shown in the queue and under the speaker (the plan's longest is about 160). */
export const MAX_TOPIC = 300;
/** The most a chair adds to a speech at once: an hour. */
export const MAX_EXTEND_SECONDS = 3600;
/** A hall's headcount: a commune hall seats tens, the province hall a few hundred; 10,000 is any hall there is. */
export const MAX_ATTENDEES = 10_000;
/** Lines of the maket: the seed's banner has four to six. */
export const MAX_MAKET_LINES = 12;
/** Characters of one maket line. */
export const MAX_MAKET_LINE = 200;
/** A conference's or an agenda item's title (the plan's longest item title is about 190). */
export const MAX_TITLE = 300;
/** A bridge's name: "Thị trấn Nông trường Thái Bình" is 30; 100 leaves room for any unit of the country. */
export const MAX_BRIDGE_NAME = 100;
/** The organiser, the venue, a note on the date: one line each. */
export const MAX_PLAN_NOTE = 300;
/** A back-channel message: a line or two ("Không nghe rõ: tiếng chủ tọa bị rè, xin kiểm tra micrô"). */
export const MAX_MESSAGE_TEXT = 280;
const COLOUR = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ROLES: readonly string[] = ['chair', 'secretary', 'operator', 'technician', 'viewer', 'system'];

/** A plain object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An actor with a known role and, if any, a string bridge id. */
export function isActor(v: unknown): v is Actor {
  if (!isRecord(v)) return false;
  return typeof v.role === 'string' && ROLES.includes(v.role) && (v.bridgeId === undefined || typeof v.bridgeId === 'string');
}

/** A non-empty id of at most 100 characters. */
export function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 100;
}

// The text rule: what people type reaches every hall's screen and the press feed, so text is
// normalised (NFC, every kind of space a plain space, trimmed) and refused when it holds what no
// person types: control characters (C0, DEL, C1), format characters (zero-width spaces and
// joiners, the byte-order mark, soft hyphens, invisible operators, tags), every bidi override,
// embedding, isolate and mark, lone surrogates, private-use and unassigned code points, line and
// paragraph separators, the invisible letters used to fake blank names (Hangul fillers, braille
// blank, variation selectors, the combining grapheme joiner), and more than a few combining marks
// on one letter. Vietnamese needs none of these: in NFC its letters carry no combining mark at
// all, and a decomposed input (base letter, then its vowel mark and tone mark) composes back.
// One rule for the core, the wire schemas (server/protocol) and the plan.

/** Combining marks allowed on one letter after NFC (Vietnamese has none left; 3 leaves room for other Latin scripts). */
export const MAX_COMBINING_MARKS = 3;

/** Why a text was refused. */
export type TextFault = 'not_text' | 'empty' | 'too_long' | 'control' | 'bidi' | 'invisible' | 'surrogate' | 'private_use' | 'unassigned' | 'line_break' | 'marks';

/** The outcome of the text rule: the normalised text, or the fault, where, and which character. */
export type TextCheck = { ok: true; text: string } | { ok: false; fault: TextFault; at?: number; codePoint?: string };

const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
// Letters and marks that draw nothing: Hangul fillers, braille blank, Khmer inherent vowels,
// Mongolian selectors, the combining grapheme joiner, variation selectors.
const INVISIBLE = /[\p{Cf}\u115F\u1160\u3164\uFFA0\u2800\u034F\u17B4\u17B5\u180B-\u180F\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/u;
const FAULTS: [TextFault, RegExp][] = [
  ['surrogate', /\p{Cs}/u],
  ['control', /\p{Cc}/u],
  ['bidi', BIDI],
  ['invisible', INVISIBLE],
  ['line_break', /[\p{Zl}\p{Zp}]/u],
  ['private_use', /\p{Co}/u],
  ['unassigned', /\p{Cn}/u],
];
const SPACES = /\p{Zs}/gu;
const MARK_RUN = /\p{M}+/gu;

/**
 * The one text rule (see above): `max` counts characters of the normalised text; `allowEmpty`
 * for fields where a blank is meaningful (a maket line left empty for spacing).
 */
export function checkText(v: unknown, max: number, options: { allowEmpty?: boolean } = {}): TextCheck {
  if (typeof v !== 'string') return { ok: false, fault: 'not_text' };
  // Checked on the raw input first: a lone surrogate or a control character never reaches normalisation's output unchanged.
  const lone = firstMatch(v, /\p{Cs}/u);
  if (lone) return { ok: false, fault: 'surrogate', ...lone };
  const t = v.normalize('NFC').replace(SPACES, ' ').trim();
  for (const [fault, pattern] of FAULTS) {
    const hit = firstMatch(t, pattern);
    if (hit) return { ok: false, fault, ...hit };
  }
  for (const run of t.matchAll(MARK_RUN)) {
    // A mark needs a letter under it, and a letter carries only a few.
    if (run.index === 0 || [...run[0]].length > MAX_COMBINING_MARKS) return { ok: false, fault: 'marks', at: run.index, codePoint: codePointOf(run[0]) };
  }
  if (t.length === 0 && !options.allowEmpty) return { ok: false, fault: 'empty' };
  if (t.length > max) return { ok: false, fault: 'too_long' };
  return { ok: true, text: t };
}

/** Whether a fault is about the characters (code invalid_text) rather than the type or the length. */
export function isCharacterFault(fault: TextFault): boolean {
  return fault !== 'not_text' && fault !== 'empty' && fault !== 'too_long';
}

/** A short English description of a refused text, for error messages: "bidi control U+202E at 5". */
export function describeTextFault(check: Extract<TextCheck, { ok: false }>): string {
  const where = check.at === undefined ? '' : ` [char:${check.codePoint}, at:${check.at}]`;
  return `${TEXT_FAULT_TEXT[check.fault]}${where}`;
}

const TEXT_FAULT_TEXT: Record<TextFault, string> = {
  not_text: 'not a string',
  empty: 'empty',
  too_long: 'too long',
  control: 'control character',
  bidi: 'bidirectional control character',
  invisible: 'invisible character',
  surrogate: 'lone surrogate',
  private_use: 'private-use character',
  unassigned: 'unassigned code point',
  line_break: 'line or paragraph separator',
  marks: `more than ${MAX_COMBINING_MARKS} combining marks on one letter, or a mark without a letter`,
};

function firstMatch(s: string, pattern: RegExp): { at: number; codePoint: string } | undefined {
  const m = pattern.exec(s);
  return m ? { at: m.index, codePoint: codePointOf(m[0]) } : undefined;
}

function codePointOf(s: string): string {
  return `U+${s.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Text that came from elsewhere and was not typed for us (an uploaded file's name), made to pass
 * the text rule rather than refused: NFC, plain spaces, every character the rule refuses left
 * out, marks past the few a letter carries (or with no letter) left out, at most `max`
 * characters (never half a pair). Null when nothing is left.
 */
export function cleanText(v: string, max: number): string | null {
  let t = v.replace(/\p{Cs}/gu, '').normalize('NFC').replace(SPACES, ' ');
  for (const [, pattern] of FAULTS) t = t.replace(new RegExp(pattern.source, 'gu'), '');
  t = t.replace(MARK_RUN, (run, at: number) => (at === 0 || /\s/u.test(t[at - 1]!) ? '' : [...run].slice(0, MAX_COMBINING_MARKS).join('')));
  t = t.normalize('NFC').trim();
  let out = '';
  for (const ch of t) {
    if (out.length + ch.length > max) break;
    out += ch;
  }
  out = out.trim();
  const check = checkText(out, max);
  return check.ok ? check.text : null;
}

/** Trimmed NFC text of 1..max characters that passes the text rule, or null. */
export function text(v: unknown, max: number): string | null {
  const check = checkText(v, max);
  return check.ok ? check.text : null;
}

/** A real calendar date written YYYY-MM-DD. */
export function isIsoDate(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  const m = ISO_DATE.exec(v);
  if (!m) return false;
  const [y, mo, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, day));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === day;
}

/** A maket override as decide takes it: a fresh copy (null clears), or why it is refused. */
export type MaketCheck = { ok: true; maket: MaketOverride | null } | { ok: false; code: 'invalid_argument' | 'invalid_text'; message: string };

/** Checks a maket override: known keys, 1..MAX_MAKET_LINES lines under the text rule (a line may be blank), #rrggbb colours. */
export function maketOf(v: unknown): MaketCheck {
  const shape = `maket must be null or { lines (≤${MAX_MAKET_LINES} of ≤${MAX_MAKET_LINE} chars), background, textColour (#rrggbb) }`;
  const bad = { ok: false, code: 'invalid_argument', message: shape } as const;
  if (v === null) return { ok: true, maket: null };
  if (!isRecord(v)) return bad;
  if (Object.keys(v).some((k) => k !== 'lines' && k !== 'background' && k !== 'textColour')) return bad;
  const maket: MaketOverride = {};
  if (v.lines !== undefined) {
    if (!Array.isArray(v.lines) || v.lines.length < 1 || v.lines.length > MAX_MAKET_LINES) return bad;
    const lines: string[] = [];
    for (const [i, line] of (v.lines as unknown[]).entries()) {
      const check = checkText(line, MAX_MAKET_LINE, { allowEmpty: true });
      if (!check.ok) return isCharacterFault(check.fault) ? { ok: false, code: 'invalid_text', message: `maket line ${i + 1}: ${describeTextFault(check)}` } : bad;
      lines.push(check.text);
    }
    maket.lines = lines;
  }
  for (const key of ['background', 'textColour'] as const) {
    const colour = v[key];
    if (colour === undefined) continue;
    if (typeof colour !== 'string' || !COLOUR.test(colour)) return bad;
    maket[key] = colour;
  }
  return { ok: true, maket };
}

/** A value as it may appear in an error message: strings shortened, anything else by its type. */
export function show(v: unknown): string {
  return typeof v === 'string' ? v.slice(0, 60) : typeof v;
}
