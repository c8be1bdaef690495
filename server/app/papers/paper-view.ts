// What the displays and the secretary's panel see of the papers and of the content on screen.
import { mayTurnPages, paperRulesOf, paperSlots, papersOf, presenceOf, type Actor, type ConferenceState, type PaperVersion } from '../../core/conference/index.ts';
import { uploaderText, type ContentView, type PaperSlotView, type PaperVersionView, type PapersView } from '../../protocol/papers.ts';

type Names = (bridgeId: string) => string;

/** The content on every screen, or null. */
export function contentViewOf(state: ConferenceState, name: Names): ContentView | null {
  const c = state.content;
  if (!c) return null;
  const topic = paperSlots(state.config).find((s) => s.slotId === c.slotId)?.topic ?? null;
  return { kind: c.kind, paperId: c.paperId, slotId: c.slotId, bridgeId: c.bridgeId, bridgeName: name(c.bridgeId), topic, page: c.page, pages: c.pages };
}

/** One version as people see it. */
export function versionView(v: PaperVersion, name: Names): PaperVersionView {
  return { paperId: v.paperId, version: v.version, pages: v.pages, bytes: v.bytes, fileName: v.fileName, submittedAt: v.submittedAt, by: uploaderText(v.by, name), late: v.late };
}

/** The submission slots (all, or one hall's) with what was received, late, missing. */
export function papersViewOf(state: ConferenceState, name: Names, onlyBridge?: string): PapersView {
  const rules = paperRulesOf(state.config);
  const papers = papersOf(state);
  const slots = paperSlots(state.config)
    .filter((s) => onlyBridge === undefined || s.bridgeId === onlyBridge)
    .map((s): PaperSlotView => {
      const versions = Object.hasOwn(papers, s.slotId) ? papers[s.slotId]! : [];
      const current = versions.at(-1) ?? null;
      return {
        slotId: s.slotId,
        itemId: s.itemId,
        itemTitle: s.itemTitle,
        bridgeId: s.bridgeId,
        bridgeName: name(s.bridgeId),
        topic: s.topic,
        state: current === null ? 'missing' : current.late ? 'late' : 'received',
        current: current && versionView(current, name),
        history: versions.slice(0, -1).reverse().map((v) => versionView(v, name)),
        online: presenceOf(state, s.bridgeId).online,
      };
    });
  return { deadline: rules.deadline, maxPages: rules.maxPages, maxBytes: rules.maxBytes, slots };
}

/** Whether this actor may turn the pages of what is on screen now (the operator panel shows its buttons then). */
export function mayTurn(state: ConferenceState, actor: Actor): boolean {
  return mayTurnPages(state, actor);
}
