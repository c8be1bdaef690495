// Chapters of a recording from the conference's event log: one per agenda item and one per
// speech within it, titled in Vietnamese as in the plan, each noting the content that was on
// screen beside the speaker during it (which paper and which pages, or whose shared screen).
// Pure: the log in, chapters out.
import type { LogEntry } from '../../core/conference/index.ts';
import { hallPhrase, nameInSentence } from '../../core/names.ts';
import { SCREEN_STOP_TEXT } from '../../protocol/papers.ts';

/** One chapter of a recording; times in ms from the start of the file. */
export interface Chapter {
  startMs: number;
  endMs: number;
  title: string;
  kind: 'item' | 'speech' | 'break' | 'waiting';
  itemId: string | null;
  bridgeId?: string;
  speakerName?: string;
  /** What was on screen beside the speaker during the chapter, in the order it came up. */
  shown?: ShownContent[];
}

/** A document or a shared screen on screen during a chapter. */
export type ShownContent =
  | { kind: 'document'; paperId: string; slotId: string; bridgeId: string; pages: number[] }
  | { kind: 'screen'; bridgeId: string; sourceLost?: true };

/** What the chapter titles need from the plan. */
export interface ChapterNames {
  items: ReadonlyMap<string, string>;
  bridges: ReadonlyMap<string, string>;
}

interface Moment {
  itemId: string | null;
  started: boolean;
  onBreak: boolean;
  speaker: { bridgeId: string; speakerName: string } | null;
}

function titleOf(m: Moment, names: ChapterNames): Pick<Chapter, 'title' | 'kind' | 'itemId' | 'bridgeId' | 'speakerName'> {
  const item = m.itemId ? names.items.get(m.itemId) ?? m.itemId : null;
  if (!m.started) return { title: 'Chờ khai mạc hội nghị', kind: 'waiting', itemId: m.itemId };
  if (m.onBreak) return { title: 'Giải lao', kind: 'break', itemId: m.itemId };
  if (m.speaker) {
    const bridge = names.bridges.get(m.speaker.bridgeId) ?? m.speaker.bridgeId;
    const who = m.speaker.speakerName ? `${m.speaker.speakerName} (điểm cầu ${nameInSentence(bridge)})` : hallPhrase(bridge);
    return { title: item ? `${item} — ${who}` : who, kind: 'speech', itemId: m.itemId, bridgeId: m.speaker.bridgeId, speakerName: m.speaker.speakerName };
  }
  return { title: item ?? 'Hội nghị', kind: 'item', itemId: m.itemId };
}

/**
 * The chapters of a recording that ran from `from` to `to` (wall clock, ms), with its file
 * starting at `zeroAt`. The whole log is replayed so that the first chapter knows the item and
 * the speaker already on when the recording started.
 */
export function chaptersFromLog(
  log: readonly LogEntry[],
  span: { from: number; to: number; zeroAt: number },
  names: ChapterNames,
  minMs = MIN_CHAPTER_MS,
): Chapter[] {
  const m: Moment = { itemId: null, started: false, onBreak: false, speaker: null };
  const marks: { at: number; moment: Moment }[] = [];
  const spans = contentSpans(log, span.to);
  const mark = (at: number): void => {
    const t = Math.max(at, span.from);
    const last = marks[marks.length - 1];
    if (last && last.at >= t) marks.pop(); // several events at once: the last state counts
    marks.push({ at: t, moment: { ...m } });
  };
  for (const e of log) {
    if (e.at > span.to) break;
    const d = e.data as Record<string, unknown>;
    switch (e.type) {
      case 'meeting_started':
        m.started = true;
        m.itemId = (d.itemId as string | null) ?? m.itemId;
        break;
      case 'agenda_changed':
        m.itemId = d.itemId as string;
        break;
      case 'status_changed':
        m.onBreak = d.to === 'break';
        if (d.to === 'running') m.started = true;
        break;
      case 'floor_granted':
        m.speaker = { bridgeId: d.bridgeId as string, speakerName: (d.speakerName as string) ?? '' };
        break;
      case 'floor_ended':
        m.speaker = null;
        break;
      default:
        continue;
    }
    mark(e.at);
  }
  if (marks.length === 0 || marks[0]!.at > span.from) marks.unshift({ at: span.from, moment: { itemId: null, started: false, onBreak: false, speaker: null } });
  // Keep what applies inside the span; the state at its start opens the first chapter.
  const inside = marks.filter((x, i) => x.at >= span.from || marks[i + 1] === undefined || marks[i + 1]!.at > span.from);
  const chapters: Chapter[] = [];
  const end = Math.max(0, span.to - span.zeroAt);
  for (const x of inside) {
    const start = Math.max(0, x.at - span.zeroAt);
    const info = titleOf(x.moment, names);
    const prev = chapters[chapters.length - 1];
    if (prev && prev.title === info.title) continue;
    if (prev) {
      prev.endMs = start;
      if (prev.endMs <= prev.startMs) chapters.pop();
    }
    chapters.push({ startMs: start, endMs: end, ...info });
  }
  return mergeShort(chapters.filter((c) => c.endMs > c.startMs), minMs).map((c) => noteShown(c, spans, span.zeroAt, names));
}

/** A period one content was on screen, with the page turns (wall clock). */
interface ContentSpan {
  from: number;
  to: number;
  content: { kind: 'document'; paperId: string; slotId: string; bridgeId: string } | { kind: 'screen'; bridgeId: string };
  turns: { at: number; page: number }[];
  /** A shared screen that ended by itself (its picture was lost): the chapter it ended in says so. */
  sourceLost?: boolean;
}

// The periods of content on screen, from the log (a span still open ends at `to`).
function contentSpans(log: readonly LogEntry[], to: number): ContentSpan[] {
  const spans: ContentSpan[] = [];
  let doc: ContentSpan | undefined;
  let screen: ContentSpan | undefined;
  for (const e of log) {
    if (e.at > to) break;
    const d = e.data as Record<string, unknown>;
    if (e.type === 'content_shown') {
      if (doc) doc.to = e.at;
      doc = { from: e.at, to, content: { kind: 'document', paperId: d.paperId as string, slotId: d.slotId as string, bridgeId: d.bridgeId as string }, turns: [{ at: e.at, page: d.page as number }] };
      spans.push(doc);
    } else if (e.type === 'content_page_changed' && doc) {
      doc.turns.push({ at: e.at, page: d.page as number });
    } else if (e.type === 'content_cleared' && doc) {
      doc.to = e.at;
      doc = undefined;
    } else if (e.type === 'screen_shared') {
      if (screen) screen.to = e.at;
      screen = { from: e.at, to, content: { kind: 'screen', bridgeId: d.bridgeId as string }, turns: [] };
      spans.push(screen);
    } else if (e.type === 'screen_share_stopped' && screen) {
      screen.to = e.at;
      if (d.reason === 'source_lost') screen.sourceLost = true;
      screen = undefined;
    }
  }
  return spans;
}

// The content on screen during a chapter (at least half a second of it), noted in its title.
function noteShown(c: Chapter, spans: readonly ContentSpan[], zeroAt: number, names: ChapterNames): Chapter {
  const from = c.startMs + zeroAt;
  const to = c.endMs + zeroAt;
  const shown: ShownContent[] = [];
  for (const s of spans) {
    if (Math.min(s.to, to) - Math.max(s.from, from) < 500) continue;
    if (s.content.kind === 'screen') {
      const lost = s.sourceLost === true && s.to > from && s.to <= to;
      shown.push(lost ? { kind: 'screen', bridgeId: s.content.bridgeId, sourceLost: true } : { kind: 'screen', bridgeId: s.content.bridgeId });
      continue;
    }
    // The page on screen when the chapter starts, and every page turned to within it.
    const pages: number[] = [];
    for (let i = 0; i < s.turns.length; i++) {
      const t = s.turns[i]!;
      const until = s.turns[i + 1]?.at ?? s.to;
      if (until > from && t.at < to && !pages.includes(t.page)) pages.push(t.page);
    }
    const prev = shown.find((x) => x.kind === 'document' && x.paperId === (s.content as { paperId: string }).paperId);
    if (prev?.kind === 'document') {
      for (const p of pages) if (!prev.pages.includes(p)) prev.pages.push(p);
    } else {
      shown.push({ ...s.content, pages });
    }
  }
  if (shown.length === 0) return c;
  const bridge = (id: string): string => names.bridges.get(id) ?? id;
  const notes = shown.map((x) =>
    x.kind === 'screen'
      ? `chia sẻ màn hình của điểm cầu ${nameInSentence(bridge(x.bridgeId))}${x.sourceLost ? ` (dừng: ${SCREEN_STOP_TEXT.source_lost})` : ''}`
      : `tham luận của điểm cầu ${nameInSentence(bridge(x.bridgeId))}, trang ${x.pages.join(', ')}`,
  );
  return { ...c, title: `${c.title} [trình chiếu: ${notes.join('; ')}]`, shown };
}

/**
 * A chapter shorter than this is a step between two commands (the chair moves to the next item,
 * then gives the floor): it is folded into the chapter after it.
 */
export const MIN_CHAPTER_MS = 1500;

function mergeShort(chapters: Chapter[], minMs: number): Chapter[] {
  const out: Chapter[] = [];
  let carryStart: number | undefined;
  for (const c of chapters) {
    const start = carryStart ?? c.startMs;
    if (c.endMs - c.startMs < minMs && c !== chapters[chapters.length - 1]) {
      carryStart = start;
      continue;
    }
    carryStart = undefined;
    const prev = out[out.length - 1];
    if (prev && prev.title === c.title) prev.endMs = c.endMs;
    else out.push({ ...c, startMs: start });
  }
  // A short last chapter goes to the one before it.
  const last = out[out.length - 1];
  if (out.length > 1 && last && last.endMs - last.startMs < minMs) {
    out.pop();
    out[out.length - 1]!.endMs = last.endMs;
  }
  return out;
}

/** FFMETADATA1 text with the file's title and its chapters (ms timebase). */
export function ffmetadata(title: string, chapters: readonly Chapter[]): string {
  const esc = (s: string): string => s.replace(/[=;#\\\n]/g, (c) => `\\${c}`);
  const lines = [';FFMETADATA1', `title=${esc(title)}`];
  for (const c of chapters) {
    lines.push('', '[CHAPTER]', 'TIMEBASE=1/1000', `START=${Math.round(c.startMs)}`, `END=${Math.round(c.endMs)}`, `title=${esc(c.title)}`);
  }
  return `${lines.join('\n')}\n`;
}
