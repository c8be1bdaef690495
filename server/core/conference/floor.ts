// FloorQueue: who asked to speak, in which order, and how long each designated speaker may talk.
// Order rule: the designated speakers of the current agenda item first, in plan order, then
// everyone else first come first served. The chair may move entries; later inserts respect moves.
import { presenceOf } from './rollcall.ts';
import type { ConferenceConfig, ConferenceState, DesignatedSpeaker, FloorRequest, AgendaItem } from './types.ts';

/** Rank of a bridge among an agenda item's designated speakers (plan order), or -1. */
export type RankOf = (bridgeId: string) => number;

/** The agenda item at index, or null when the agenda is empty or the index is outside it. */
export function agendaItemAt(config: ConferenceConfig, index: number): AgendaItem | null {
  return config.agenda[index] ?? null;
}

/** The plan's designated speaker entry for a bridge in the item at index, or null. */
export function designatedSpeaker(config: ConferenceConfig, itemIndex: number, bridgeId: string): DesignatedSpeaker | null {
  return agendaItemAt(config, itemIndex)?.speakers.find((s) => s.bridgeId === bridgeId) ?? null;
}

/** Ranking function for the designated speakers of the item at index. */
export function designatedRanks(config: ConferenceConfig, itemIndex: number): RankOf {
  const speakers = agendaItemAt(config, itemIndex)?.speakers ?? [];
  return (bridgeId) => speakers.findIndex((s) => s.bridgeId === bridgeId);
}

/** Inserts a request: a designated speaker before every later-ranked or undesignated entry, others at the end. */
export function enqueueRequest(
  queue: readonly FloorRequest[],
  request: FloorRequest,
  rankOf: RankOf,
): { queue: FloorRequest[]; position: number } {
  const rank = rankOf(request.bridgeId);
  let position = queue.length;
  if (rank >= 0) {
    const at = queue.findIndex((r) => {
      const other = rankOf(r.bridgeId);
      return other < 0 || other > rank;
    });
    if (at >= 0) position = at;
  }
  const next = [...queue];
  next.splice(position, 0, request);
  return { queue: next, position };
}

/** Re-orders for a new agenda item: its designated speakers first in plan order, the rest keep their order. */
export function orderQueueForItem(queue: readonly FloorRequest[], rankOf: RankOf): FloorRequest[] {
  const designated = queue
    .map((request, i) => ({ request, i, rank: rankOf(request.bridgeId) }))
    .filter((e) => e.rank >= 0)
    .sort((a, b) => a.rank - b.rank || a.i - b.i)
    .map((e) => e.request);
  return [...designated, ...queue.filter((r) => rankOf(r.bridgeId) < 0)];
}

/** Moves one entry to index (clamped to the end of the queue). */
export function moveRequest(queue: readonly FloorRequest[], requestId: string, toIndex: number): FloorRequest[] {
  const from = queue.findIndex((r) => r.id === requestId);
  if (from < 0) return [...queue];
  const next = [...queue];
  const [entry] = next.splice(from, 1);
  next.splice(Math.min(toIndex, next.length), 0, entry!);
  return next;
}

/** Speaking limit for a bridge in the item at index: the speaker's override, else the item's, else the default. */
export function speakingLimitMs(config: ConferenceConfig, itemIndex: number, bridgeId: string): number {
  const minutes =
    designatedSpeaker(config, itemIndex, bridgeId)?.limitMinutes ??
    agendaItemAt(config, itemIndex)?.limitMinutes ??
    config.speaking.defaultLimitMinutes;
  return Math.round(minutes * 60_000);
}

/** Whether two queues list the same requests in the same order. */
export function sameOrder(a: readonly FloorRequest[], b: readonly FloorRequest[]): boolean {
  return a.length === b.length && a.every((r, i) => r.id === b[i]!.id);
}

/**
 * The request grant_next gives the floor to: the first in the queue whose hall is online (an
 * offline hall keeps its place but is passed over until it is back); null when none is. The app
 * prepares this hall's media at every hall, so both must agree: this is the one rule.
 */
export function nextSpeaker(state: Pick<ConferenceState, 'queue' | 'presence'>): FloorRequest | null {
  return state.queue.find((r) => presenceOf(state, r.bridgeId).online) ?? null;
}

/**
 * The bridge on air: the floor holder, or the chair while nobody holds the floor. The view, the
 * media of every node and the press feed all read it from the state through this one function.
 */
export function onAirOf(state: Pick<ConferenceState, 'config' | 'floor'>): string {
  return state.floor?.bridgeId ?? state.config.chairBridgeId;
}
