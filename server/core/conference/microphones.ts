// The microphone rule, in one place: which halls' microphones are open at the server. The core's
// mic_opened/mic_closed events and the SFU's open set (FloorMedia → setOpenMicrophones) both
// come from this function, so a new rule (a break, an operator's mute) is a change here alone.
import type { ConferenceState } from './types.ts';

/**
 * The bridges whose microphones are open: the chair's, always, and the floor holder's
 * ("every microphone closed except the chair's and the one that was given the floor").
 */
export function openMicrophones(state: Pick<ConferenceState, 'config' | 'floor'>): string[] {
  const open = [state.config.chairBridgeId];
  const holder = state.floor?.bridgeId;
  if (holder !== undefined && holder !== state.config.chairBridgeId) open.push(holder);
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
