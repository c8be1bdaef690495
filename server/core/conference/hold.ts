// Why the floor holder's clock stands still, and for how long a holder whose link dropped keeps
// the floor. The timer runs when no reason holds it: the chair's pause, a break, a reconnection.
import { pauseSpeakingTimer, remainingMs, resumeSpeakingTimer } from './timer.ts';
import { DEFAULT_HOLDER_GRACE_SECONDS, type ConferenceEvent, type FloorHolder, type PauseReason, type SpeakingRules } from './types.ts';

/** The reasons that hold the holder's clock (a state stored before reasons: the chair's pause, if paused). */
export function pausesOf(floor: FloorHolder): PauseReason[] {
  return floor.pauses ?? (floor.timer.pausedAt !== null ? ['chair'] : []);
}

/** Holds the clock for a reason (mutates a draft); timer_paused when the clock was running. */
export function holdClock(floor: FloorHolder, reason: PauseReason, now: number, out: ConferenceEvent[]): void {
  const pauses = pausesOf(floor);
  if (pauses.includes(reason)) return;
  floor.pauses = [...pauses, reason];
  if (floor.timer.pausedAt !== null) return;
  floor.timer = pauseSpeakingTimer(floor.timer, now);
  out.push({ type: 'timer_paused', bridgeId: floor.bridgeId, remainingMs: remainingMs(floor.timer, now), reason });
}

/** Lets go of one reason (mutates a draft); timer_resumed when no other reason holds the clock. */
export function releaseClock(floor: FloorHolder, reason: PauseReason, now: number, out: ConferenceEvent[]): void {
  const pauses = pausesOf(floor);
  if (!pauses.includes(reason)) return;
  floor.pauses = pauses.filter((p) => p !== reason);
  if (floor.pauses.length > 0 || floor.timer.pausedAt === null) return;
  floor.timer = resumeSpeakingTimer(floor.timer, now);
  out.push({ type: 'timer_resumed', bridgeId: floor.bridgeId, deadline: floor.timer.deadline, reason });
}

/** How long a holder whose link dropped keeps the floor (ms); 0: it loses it at once. */
export function holderGraceMs(rules: SpeakingRules): number {
  const seconds = rules.holderGraceSeconds ?? DEFAULT_HOLDER_GRACE_SECONDS;
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}
