// Event log: every accepted change, who made it and when, numbered without gaps.
import type { Actor, ConferenceEvent, ConferenceState, LogEntry } from './types.ts';

/** The app itself, as the actor of connection events and timer ticks. */
export const SYSTEM_ACTOR: Actor = Object.freeze({ role: 'system' });

/** Copies only the fields of an actor that belong in the log. */
export function logActor(actor: Actor): Actor {
  return typeof actor.bridgeId === 'string' ? { role: actor.role, bridgeId: actor.bridgeId } : { role: actor.role };
}

/** Appends one entry per event to a draft's log and returns the new entries. */
export function appendLog(draft: ConferenceState, events: readonly ConferenceEvent[], actor: Actor, now: number): LogEntry[] {
  const who = logActor(actor);
  const entries = events.map(({ type, ...data }): LogEntry => ({ seq: ++draft.seq, at: now, actor: who, type, data }));
  // One push per entry: a batch of thousands of halls would overflow a spread's arguments.
  for (const entry of entries) draft.log.push(entry);
  return entries;
}

/** Log entries after a sequence number (for clients catching up after a reconnect). */
export function logSince(state: ConferenceState, seq: number): LogEntry[] {
  return state.log.filter((e) => e.seq > seq);
}
