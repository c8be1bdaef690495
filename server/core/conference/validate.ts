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

/** Trimmed NFC text of 1..max characters, or null. */
export function text(v: unknown, max: number): string | null {
  if (typeof v !== 'string') return null;
  const t = v.normalize('NFC').trim();
  return t.length >= 1 && t.length <= max ? t : null;
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

/** A valid maket override (a fresh copy), null to clear, or undefined when invalid. */
export function maketOf(v: unknown): MaketOverride | null | undefined {
  if (v === null) return null;
  if (!isRecord(v)) return undefined;
  if (Object.keys(v).some((k) => k !== 'lines' && k !== 'background' && k !== 'textColour')) return undefined;
  const maket: MaketOverride = {};
  if (v.lines !== undefined) {
    if (!Array.isArray(v.lines) || v.lines.length < 1 || v.lines.length > MAX_MAKET_LINES) return undefined;
    if (!v.lines.every((l) => typeof l === 'string' && l.length <= MAX_MAKET_LINE)) return undefined;
    maket.lines = (v.lines as string[]).map((l) => l.normalize('NFC'));
  }
  for (const key of ['background', 'textColour'] as const) {
    const colour = v[key];
    if (colour === undefined) continue;
    if (typeof colour !== 'string' || !COLOUR.test(colour)) return undefined;
    maket[key] = colour;
  }
  return maket;
}

/** A value as it may appear in an error message: strings shortened, anything else by its type. */
export function show(v: unknown): string {
  return typeof v === 'string' ? v.slice(0, 60) : typeof v;
}
