// Papers (tham luận) and the content on every screen: the pure rules.
//
// Every speaker of a designated-paper item has a submission slot. A paper version enters the
// state only through `paper_submit`, which the server issues after it has checked the file (the
// checker measures; the rules that judge the measures are here). The "content on screen" is one
// value of the state, `content`: which document and which page every hall display shows beside
// the speaker. Output follows that value: the hall displays render it, and the programme output
// (press feed, recording) composes the same page beside the speaker. A shared screen is the
// other content (screen.ts); the two exclude each other.
//
// Decisions:
// - Who may put up and turn: the secretary and the chair, any paper; the operator of the hall
//   that holds the floor, its own hall's paper. A hall's paper shown during its own speech comes
//   down when that speech ends; anything else stays until replaced or cleared.
// - Who may read a paper file: staff (chair, secretary, technician) and the owning hall always;
//   anyone else (other halls' displays, the press) only a paper that has been put up during the
//   meeting, so nothing is read by the press before the meeting.
// - A paper after the deadline is accepted and marked late; a new version replaces the shown
//   one on the slot, and every version stays in the history.
import { actsFor } from './access.ts';
import { refuse } from './errors.ts';
import { stopScreenShare } from './screen.ts';
import { isId, show, text } from './validate.ts';
import type { Actor, CommandOf, ConferenceConfig, ConferenceEvent, ConferenceState, FloorHolder, Refused } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Rules and limits (one source: the plan schema and the wire schemas are built from these)

/** A4 in millimetres, portrait. */
export const A4_MM: Readonly<{ width: number; height: number }> = Object.freeze({ width: 210, height: 297 });

/** PDF points per millimetre (1 pt = 1/72 inch). */
export const PT_PER_MM = 72 / 25.4;

/** One mebibyte, the unit of the plan's size limit. */
export const MB = 1024 * 1024;

/** What a paper must be: its deadline (epoch ms, null: none), at most maxPages A4 pages of at most maxBytes. */
export interface PaperRules {
  deadline: number | null;
  maxPages: number;
  maxBytes: number;
  /** How far a page may be from 210 × 297 mm on each side. */
  toleranceMm: number;
  /** Whether pages may be landscape (297 × 210). */
  landscape: boolean;
}

/** The plan's defaults (seed 004: "tham luận không quá 4 trang A4"); files of at most 20 MB. */
export const DEFAULT_PAPER_RULES: Readonly<PaperRules> = Object.freeze({
  deadline: null,
  maxPages: 4,
  maxBytes: 20 * MB,
  toleranceMm: 3,
  landscape: true,
});

/** Bounds of what a plan may set. */
export const PAPER_RULE_BOUNDS = Object.freeze({ maxPages: 200, maxBytes: 100 * MB, toleranceMm: 20 });

/** Paper ids are chosen by the server (random, url-safe); never taken from an upload. */
export const PAPER_ID_PATTERN = /^[A-Za-z0-9_-]{12,32}$/;

/** The original file name is kept for people to read, at most this long. */
export const MAX_PAPER_FILE_NAME = 200;

/** The largest image a paper may hold, in pixels (A4 scanned at 600 dpi is about 35 million); the checker and the displays both hold to it. */
export const MAX_PAPER_IMAGE_PIXELS = 40_000_000;

/** The highest page number any command may carry (a bound for the wire, not a rule). */
export const MAX_PAGE_NUMBER = PAPER_RULE_BOUNDS.maxPages;

/** The paper rules of a configuration (configurations stored before papers existed get the defaults). */
export function paperRulesOf(config: ConferenceConfig): PaperRules {
  return config.papers ?? { ...DEFAULT_PAPER_RULES };
}

/** Problems in a set of paper rules, as short messages. */
export function checkPaperRules(rules: PaperRules): string[] {
  const problems: string[] = [];
  if (rules.deadline !== null && !Number.isFinite(rules.deadline)) problems.push('papers.deadline must be epoch milliseconds or null');
  if (!Number.isInteger(rules.maxPages) || rules.maxPages < 1 || rules.maxPages > PAPER_RULE_BOUNDS.maxPages) problems.push('papers.maxPages out of range');
  if (!Number.isInteger(rules.maxBytes) || rules.maxBytes < 1 || rules.maxBytes > PAPER_RULE_BOUNDS.maxBytes) problems.push('papers.maxBytes out of range');
  if (!(rules.toleranceMm >= 0 && rules.toleranceMm <= PAPER_RULE_BOUNDS.toleranceMm)) problems.push('papers.toleranceMm out of range');
  if (typeof rules.landscape !== 'boolean') problems.push('papers.landscape must be a boolean');
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Slots

/** A designated paper expected from a hall: one per speaker of a designated_paper item. */
export interface PaperSlot {
  slotId: string;
  itemId: string;
  itemTitle: string;
  bridgeId: string;
  topic: string | null;
}

/** The slot id of an item's speaker ('tham-luan-cap-xa.c-06010'; both parts are url-safe and dot-free). */
export function slotIdOf(itemId: string, bridgeId: string): string {
  return `${itemId}.${bridgeId}`;
}

/** Every submission slot of a configuration, in agenda order. */
export function paperSlots(config: ConferenceConfig): PaperSlot[] {
  const slots: PaperSlot[] = [];
  for (const item of config.agenda) {
    if (item.kind !== 'designated_paper') continue;
    for (const s of item.speakers) {
      slots.push({ slotId: slotIdOf(item.id, s.bridgeId), itemId: item.id, itemTitle: item.title, bridgeId: s.bridgeId, topic: s.topic ?? null });
    }
  }
  return slots;
}

/** The slot with this id, or undefined. */
export function findSlot(config: ConferenceConfig, slotId: string): PaperSlot | undefined {
  return paperSlots(config).find((s) => s.slotId === slotId);
}

// ---------------------------------------------------------------------------------------------
// State

/** One received version of a paper (metadata; the file is on the server's disk under paperId). */
export interface PaperVersion {
  paperId: string;
  slotId: string;
  bridgeId: string;
  version: number;
  pages: number;
  bytes: number;
  sha256: string;
  /** The uploader's file name, for people; never used to name anything. */
  fileName: string | null;
  submittedAt: number;
  by: Actor;
  late: boolean;
}

/** A document on every hall display: which paper version, which page. */
export interface DocumentOnScreen {
  kind: 'document';
  paperId: string;
  slotId: string;
  /** The hall whose paper it is. */
  bridgeId: string;
  page: number;
  pages: number;
  shownAt: number;
  by: Actor;
  /** The speech going on when it was put up; if it is that hall's own speech, its end takes the paper down. */
  speechRequestId: string | null;
}

/** The document every screen shows beside the speaker (a shared screen is `state.screen`, screen.ts). */
export type ContentOnScreen = DocumentOnScreen;

/** Why content came down. */
export type ContentClearReason = 'cleared' | 'replaced' | 'speech_ended' | 'meeting_ended';

/** One period a paper was on screen, for the report and the recording's chapters. */
export interface ContentShowing {
  paperId: string;
  slotId: string;
  bridgeId: string;
  from: number;
  to: number | null;
  /** Pages shown, in the order first shown. */
  pages: number[];
}

/** Versions received per slot (oldest first; the last is the current one). */
export function papersOf(state: ConferenceState): Record<string, PaperVersion[]> {
  return state.papers ?? {};
}

/** The current version of a slot, or null. */
export function currentPaper(state: ConferenceState, slotId: string): PaperVersion | null {
  const versions = Object.hasOwn(papersOf(state), slotId) ? papersOf(state)[slotId]! : [];
  return versions.at(-1) ?? null;
}

/** A paper version by id, or null. */
export function paperById(state: ConferenceState, paperId: string): PaperVersion | null {
  for (const versions of Object.values(papersOf(state))) {
    const v = versions.find((p) => p.paperId === paperId);
    if (v) return v;
  }
  return null;
}

/** Whether an actor may read a paper's file now (see the decisions at the top). */
export function mayReadPaper(state: ConferenceState, actor: Actor, paperId: string): boolean {
  const paper = paperById(state, paperId);
  if (!paper) return false;
  if (actor.role === 'chair' || actor.role === 'secretary' || actor.role === 'technician' || actor.role === 'system') return true;
  if (actor.role === 'operator' && actor.bridgeId === paper.bridgeId) return true;
  return state.content?.paperId === paperId || (state.showings ?? []).some((s) => s.paperId === paperId);
}

/** Whether an actor may upload to a slot (before the file is even read): the core's role and hall rule. */
export function maySubmitTo(config: ConferenceConfig, actor: Actor, slotId: string): 'ok' | 'forbidden' | 'unknown_slot' {
  if (actor.role !== 'operator' && actor.role !== 'secretary' && actor.role !== 'chair') return 'forbidden';
  const slot = findSlot(config, slotId);
  if (!slot) return actor.role === 'operator' ? 'forbidden' : 'unknown_slot';
  return actsFor(actor, slot.bridgeId) ? 'ok' : 'forbidden';
}

/** Whether an actor may turn the pages of the content on screen (and clear it) now. */
export function mayTurnPages(state: ConferenceState, actor: Actor): boolean {
  const content = state.content;
  if (!content) return false;
  if (actor.role === 'secretary' || actor.role === 'chair') return true;
  return actor.role === 'operator' && actor.bridgeId === content.bridgeId && state.floor?.bridgeId === actor.bridgeId;
}

/** Whether an actor may put up this paper now. */
export function mayShowPaper(state: ConferenceState, actor: Actor, paper: PaperVersion): boolean {
  if (actor.role === 'secretary' || actor.role === 'chair') return true;
  return actor.role === 'operator' && actor.bridgeId === paper.bridgeId && state.floor?.bridgeId === actor.bridgeId;
}

// ---------------------------------------------------------------------------------------------
// Command handlers (called from decide)

type Out = ConferenceEvent[];
const SHA256 = /^[0-9a-f]{64}$/;

/** paper_submit: a checked file's metadata enters the state (issued by the server after the check, with the uploader as actor). */
export function submitPaper(d: ConferenceState, c: CommandOf<'paper_submit'>, now: number, out: Out): Refused | void {
  if (!isId(c.slotId)) return refuse('invalid_argument', 'slotId must be a string');
  const slot = findSlot(d.config, c.slotId);
  if (!slot) return refuse(c.actor.role === 'operator' ? 'forbidden' : 'unknown_slot', `no paper slot [slotId:${c.slotId}]`);
  if (!actsFor(c.actor, slot.bridgeId)) return refuse('forbidden', `operator acts only for its bridge [bridgeId:${slot.bridgeId}]`);
  if (typeof c.paperId !== 'string' || !PAPER_ID_PATTERN.test(c.paperId)) return refuse('invalid_argument', 'paperId must be 12..32 url-safe characters');
  if (paperById(d, c.paperId)) return refuse('invalid_argument', `paper id already used [paperId:${c.paperId}]`);
  const rules = paperRulesOf(d.config);
  if (!Number.isInteger(c.pages) || c.pages < 1 || c.pages > rules.maxPages) return refuse('invalid_argument', `pages must be a whole number in 1..${rules.maxPages}`);
  if (!Number.isInteger(c.bytes) || c.bytes < 1 || c.bytes > rules.maxBytes) return refuse('invalid_argument', `bytes must be a whole number in 1..${rules.maxBytes}`);
  if (typeof c.sha256 !== 'string' || !SHA256.test(c.sha256)) return refuse('invalid_argument', 'sha256 must be 64 lower-case hex digits');
  let fileName: string | null = null;
  if (c.fileName !== undefined && c.fileName !== null) {
    fileName = text(c.fileName, MAX_PAPER_FILE_NAME);
    if (fileName === null) return refuse('invalid_argument', `fileName must be 1..${MAX_PAPER_FILE_NAME} characters or null`);
  }
  d.papers ??= {};
  const versions = Object.hasOwn(d.papers, slot.slotId) ? d.papers[slot.slotId]! : (d.papers[slot.slotId] = []);
  const late = rules.deadline !== null && now > rules.deadline;
  const by: Actor = c.actor.bridgeId === undefined ? { role: c.actor.role } : { role: c.actor.role, bridgeId: c.actor.bridgeId };
  const paper: PaperVersion = {
    paperId: c.paperId,
    slotId: slot.slotId,
    bridgeId: slot.bridgeId,
    version: versions.length + 1,
    pages: c.pages,
    bytes: c.bytes,
    sha256: c.sha256,
    fileName,
    submittedAt: now,
    by,
    late,
  };
  versions.push(paper);
  out.push({
    type: 'paper_received',
    paperId: paper.paperId,
    slotId: slot.slotId,
    itemId: slot.itemId,
    bridgeId: slot.bridgeId,
    version: paper.version,
    pages: paper.pages,
    bytes: paper.bytes,
    late,
  });
}

/** content_show: puts a paper up on every hall display (replacing what was there). */
export function showContent(d: ConferenceState, c: CommandOf<'content_show'>, now: number, out: Out): Refused | void {
  if (typeof c.paperId !== 'string') return refuse('invalid_argument', 'paperId must be a string');
  const paper = paperById(d, c.paperId);
  if (!paper) return refuse('unknown_paper', `no such paper [paperId:${show(c.paperId)}]`);
  if (!mayShowPaper(d, c.actor, paper)) return refuse('forbidden', `a hall shows only its own paper while it holds the floor [paperId:${paper.paperId}]`);
  if (d.startedAt === null || d.endedAt !== null) return refuse('invalid_state', `content is shown only during the meeting [status:${d.status}]`);
  const page = c.page ?? 1;
  if (!Number.isInteger(page) || page < 1 || page > paper.pages) return refuse('invalid_argument', `page must be a whole number in 1..${paper.pages}`);
  // One content at a time: the office's document replaces a shared screen; a hall's waits for it to stop.
  if (d.screen) {
    if (c.actor.role !== 'secretary' && c.actor.role !== 'chair') return refuse('content_busy', `a screen is shared [bridgeId:${d.screen.bridgeId}]`);
    stopScreenShare(d, now, 'replaced', out);
  }
  const current = d.content ?? null;
  if (current && current.paperId === paper.paperId) {
    // The same paper again: only the page may change.
    turnTo(d, page, out);
    return;
  }
  if (current) clearContent(d, now, 'replaced', out);
  const content: DocumentOnScreen = {
    kind: 'document',
    paperId: paper.paperId,
    slotId: paper.slotId,
    bridgeId: paper.bridgeId,
    page,
    pages: paper.pages,
    shownAt: now,
    by: c.actor.bridgeId === undefined ? { role: c.actor.role } : { role: c.actor.role, bridgeId: c.actor.bridgeId },
    speechRequestId: d.floor?.requestId ?? null,
  };
  d.content = content;
  (d.showings ??= []).push({ paperId: paper.paperId, slotId: paper.slotId, bridgeId: paper.bridgeId, from: now, to: null, pages: [page] });
  out.push({ type: 'content_shown', kind: 'document', paperId: paper.paperId, slotId: paper.slotId, bridgeId: paper.bridgeId, page, pages: paper.pages, speechRequestId: content.speechRequestId });
}

/** content_page: turns the page of the content on screen. */
export function turnPage(d: ConferenceState, c: CommandOf<'content_page'>, _now: number, out: Out): Refused | void {
  if (!d.content) return refuse('invalid_state', 'no content on screen');
  if (!mayTurnPages(d, c.actor)) return refuse('forbidden', 'only the secretary, the chair or the speaking hall turns the pages');
  if (!Number.isInteger(c.page) || c.page < 1 || c.page > d.content.pages) return refuse('invalid_argument', `page must be a whole number in 1..${d.content.pages}`);
  turnTo(d, c.page, out);
}

/** content_clear: takes the content down. */
export function clearContentCommand(d: ConferenceState, c: CommandOf<'content_clear'>, now: number, out: Out): Refused | void {
  if (!d.content) return refuse('invalid_state', 'no content on screen');
  if (!mayTurnPages(d, c.actor)) return refuse('forbidden', 'only the secretary, the chair or the speaking hall takes the content down');
  clearContent(d, now, 'cleared', out);
}

/** Takes the content down (if any) and closes its showing. */
export function clearContent(d: ConferenceState, now: number, reason: ContentClearReason, out: Out): void {
  const content = d.content;
  if (!content) return;
  d.content = null;
  const showing = openShowing(d, content.paperId);
  if (showing) showing.to = now;
  out.push({ type: 'content_cleared', paperId: content.paperId, reason });
}

/** When a speech ends, the speaking hall's own paper put up during it comes down. */
export function onSpeechEnded(d: ConferenceState, ended: FloorHolder, now: number, out: Out): void {
  const content = d.content;
  if (content && content.bridgeId === ended.bridgeId && content.speechRequestId === ended.requestId) clearContent(d, now, 'speech_ended', out);
}

// The showing of this paper still on screen (the last one opened).
function openShowing(d: ConferenceState, paperId: string): ContentShowing | undefined {
  const showings = d.showings ?? [];
  for (let i = showings.length - 1; i >= 0; i--) if (showings[i]!.paperId === paperId && showings[i]!.to === null) return showings[i];
  return undefined;
}

function turnTo(d: ConferenceState, page: number, out: Out): void {
  const content = d.content!;
  if (content.page === page) return;
  content.page = page;
  const showing = openShowing(d, content.paperId);
  if (showing && !showing.pages.includes(page)) showing.pages.push(page);
  out.push({ type: 'content_page_changed', paperId: content.paperId, page, pages: content.pages });
}
