// The microphone rule, in one place: which halls' microphones are open at the server. The core's
// mic_opened/mic_closed events and the SFU's open set (FloorMedia → setOpenMicrophones) both
// come from this function, so a new rule (a break, an operator's mute) is a change here alone.
import { onBreak } from './agenda.ts';
import type { ConferenceState } from './types.ts';

/** What the rule reads of the state. */
export type MicrophoneFacts = Pick<ConferenceState, 'config' | 'floor' | 'agenda' | 'startedAt' | 'endedAt' | 'explicitBreakSince' | 'mutedHalls'>;

/**
 * The bridges whose microphones are open: the chair's, always, and the floor holder's ("every
 * microphone closed except the chair's and the one that was given the floor"), except that
 * - during a break only the chair's is open (the holder keeps the floor, silent, clock stopped);
 * - a holder whose link dropped is not open while it reconnects (it resumes when back);
 * - a hall its operator muted for a moment ("Tắt micrô tạm thời") is closed, the chair's included.
 */
export function openMicrophones(state: MicrophoneFacts): string[] {
  const muted = new Set(state.mutedHalls ?? []);
  const chair = state.config.chairBridgeId;
  const open = muted.has(chair) ? [] : [chair];
  const floor = state.floor;
  if (!floor || floor.bridgeId === chair || muted.has(floor.bridgeId)) return open;
  if (onBreak(state) || (floor.reconnectingUntil ?? null) !== null) return open;
  open.push(floor.bridgeId);
  return open;
}

/** The mic_opened/mic_closed events that take the open set from `before` to `after`. */
export function microphoneChanges(
  before: readonly string[],
  after: readonly string[],
): ({ type: 'mic_opened'; bridgeId: string } | { type: 'mic_closed'; bridgeId: string })[] {
  const was = new Set(before);
  const now = new Set(after);
  return [
    ...before.filter((b) => !now.has(b)).map((bridgeId) => ({ type: 'mic_closed' as const, bridgeId })),
    ...after.filter((b) => !was.has(b)).map((bridgeId) => ({ type: 'mic_opened' as const, bridgeId })),
  ];
}

/** The open set the events of one decision announce, starting from `before`. */
export function announcedMicrophones(before: readonly string[], events: readonly { type: string; bridgeId?: string }[]): string[] {
  let open = [...before];
  for (const e of events) {
    if (e.bridgeId === undefined) continue;
    if (e.type === 'mic_opened' && !open.includes(e.bridgeId)) open.push(e.bridgeId);
    if (e.type === 'mic_closed') open = open.filter((b) => b !== e.bridgeId);
  }
  return open;
}
