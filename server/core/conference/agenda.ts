// Agenda: the current item, the clock of each item, the break state and the meeting status.
import { agendaItemAt } from './floor.ts';
import type { ConferenceState, MeetingStatus, AgendaItem } from './types.ts';

/** The item the meeting is on, or null for an empty agenda. */
export function currentAgendaItem(state: ConferenceState): AgendaItem | null {
  return agendaItemAt(state.config, state.agenda.index);
}

/** Status from the facts: not started, ended, in a break (break item or explicit break), or running. */
export function deriveStatus(state: ConferenceState): MeetingStatus {
  if (state.endedAt !== null) return 'ended';
  if (state.startedAt === null) return 'waiting';
  if (onBreak(state)) return 'break';
  return 'running';
}

/**
 * Whether the meeting is in a break ("Giải lao"): an explicit break, or the agenda on a break
 * item, between the start and the end. During it every microphone but the chair's is closed and
 * the holder's clock stands still.
 */
export function onBreak(state: Pick<ConferenceState, 'config' | 'agenda' | 'startedAt' | 'endedAt' | 'explicitBreakSince'>): boolean {
  if (state.startedAt === null || state.endedAt !== null) return false;
  return state.explicitBreakSince !== null || agendaItemAt(state.config, state.agenda.index)?.kind === 'break';
}

/** Whether the current item's clock should run: started, not ended, no explicit break. */
export function itemClockRuns(state: ConferenceState): boolean {
  return state.startedAt !== null && state.endedAt === null && state.explicitBreakSince === null;
}

/** Time spent on an item so far, including the running stretch of the current one. */
export function itemElapsedMs(state: ConferenceState, itemId: string, now: number): number {
  const settled = Object.hasOwn(state.agenda.elapsedMs, itemId) ? state.agenda.elapsedMs[itemId]! : 0;
  const current = currentAgendaItem(state);
  const running = current?.id === itemId && state.agenda.itemStartedAt !== null ? now - state.agenda.itemStartedAt : 0;
  return settled + Math.max(0, running);
}

/** Adds the running stretch of the current item to its total and stops its clock (mutates a draft). */
export function stopItemClock(draft: ConferenceState, now: number): void {
  const item = currentAgendaItem(draft);
  const since = draft.agenda.itemStartedAt;
  draft.agenda.itemStartedAt = null;
  if (!item || since === null) return;
  const before = Object.hasOwn(draft.agenda.elapsedMs, item.id) ? draft.agenda.elapsedMs[item.id]! : 0;
  draft.agenda.elapsedMs[item.id] = before + Math.max(0, now - since);
}

/** Starts the current item's clock when it should run (mutates a draft). */
export function startItemClock(draft: ConferenceState, now: number): void {
  draft.agenda.itemStartedAt = itemClockRuns(draft) && currentAgendaItem(draft) ? now : null;
}
