// The papers part of the after-meeting report: every designated paper, when it came, its pages,
// late or not, and during which speeches it was on screen.
import { paperRulesOf, paperSlots, papersOf, type ContentShowing } from './papers.ts';
import type { ConferenceConfig, ConferenceState } from './types.ts';

/** One designated paper in the report. */
export interface PaperRow {
  slotId: string;
  itemId: string;
  itemTitle: string;
  bridgeId: string;
  bridgeName: string;
  topic: string | null;
  /** The current (last) version, or null when nothing was received. */
  paperId: string | null;
  versions: number;
  firstSubmittedAt: number | null;
  submittedAt: number | null;
  pages: number | null;
  bytes: number | null;
  late: boolean | null;
  deadline: number | null;
  /** Order numbers (as in the speakers list) of the speeches during which any version was on screen. */
  shownDuringSpeeches: number[];
  /** Those speeches, for people: who spoke, from which hall. */
  shownDuring: { order: number; bridgeId: string; bridgeName: string; speakerName: string }[];
  /** Pages shown, over every showing. */
  pagesShown: number[];
  shownSec: number;
}

/** The report's paper rows, in programme order. `at` closes a showing still on screen. */
export function paperRows(state: ConferenceState, config: ConferenceConfig, at: number): PaperRow[] {
  const names = new Map(config.bridges.map((b) => [b.id, b.name]));
  const rules = paperRulesOf(config);
  const papers = papersOf(state);
  // Speeches numbered as the speakers list numbers them, plus the one going on.
  const speeches = state.speeches.map((s, i) => ({ order: i + 1, from: s.startedAt, to: s.endedAt, bridgeId: s.bridgeId, speakerName: s.speakerName }));
  if (state.floor) speeches.push({ order: speeches.length + 1, from: state.floor.grantedAt, to: Number.POSITIVE_INFINITY, bridgeId: state.floor.bridgeId, speakerName: state.floor.speakerName });
  const showings = state.showings ?? [];
  return paperSlots(config).map((slot): PaperRow => {
    const versions = Object.hasOwn(papers, slot.slotId) ? papers[slot.slotId]! : [];
    const current = versions.at(-1) ?? null;
    const shown: ContentShowing[] = showings.filter((s) => s.slotId === slot.slotId);
    const during = new Set<number>();
    const pages = new Set<number>();
    let shownMs = 0;
    for (const s of shown) {
      const to = s.to ?? at;
      shownMs += Math.max(0, to - s.from);
      for (const p of s.pages) pages.add(p);
      // A showing is during a speech when their spans overlap.
      for (const sp of speeches) if (s.from < sp.to && to > sp.from) during.add(sp.order);
    }
    return {
      slotId: slot.slotId,
      itemId: slot.itemId,
      itemTitle: slot.itemTitle,
      bridgeId: slot.bridgeId,
      bridgeName: names.get(slot.bridgeId) ?? slot.bridgeId,
      topic: slot.topic,
      paperId: current?.paperId ?? null,
      versions: versions.length,
      firstSubmittedAt: versions[0]?.submittedAt ?? null,
      submittedAt: current?.submittedAt ?? null,
      pages: current?.pages ?? null,
      bytes: current?.bytes ?? null,
      late: current ? current.late : null,
      deadline: rules.deadline,
      shownDuringSpeeches: [...during].sort((a, b) => a - b),
      shownDuring: [...during]
        .sort((a, b) => a - b)
        .map((order) => {
          const sp = speeches[order - 1]!;
          return { order, bridgeId: sp.bridgeId, bridgeName: names.get(sp.bridgeId) ?? sp.bridgeId, speakerName: sp.speakerName };
        }),
      pagesShown: [...pages].sort((a, b) => a - b),
      shownSec: Math.round(shownMs / 1000),
    };
  });
}
