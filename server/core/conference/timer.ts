// SpeakingTimer: the server-authoritative countdown of the hall that holds the floor.
// Pure functions over plain data; every function returns a new timer.
import type { SpeakingRules, SpeakingTimer } from './types.ts';

/** Warning marks as positive whole seconds, unique, longest first. */
export function warningMarks(rules: SpeakingRules): number[] {
  const marks = rules.warningMarksSeconds.filter((m) => Number.isFinite(m) && m > 0);
  return [...new Set(marks)].sort((a, b) => b - a);
}

/** Starts a countdown of limitMs at now; marks at or above the limit count as already given. */
export function startSpeakingTimer(limitMs: number, now: number, rules: SpeakingRules): SpeakingTimer {
  return {
    limitMs,
    startedAt: now,
    deadline: now + limitMs,
    pausedAt: null,
    pausedMs: 0,
    extendedMs: 0,
    warned: warningMarks(rules).filter((m) => m * 1000 >= limitMs),
    expired: false,
  };
}

/** Milliseconds left (negative once in overtime); frozen while paused. */
export function remainingMs(timer: SpeakingTimer, now: number): number {
  return timer.deadline - (timer.pausedAt ?? now);
}

/** Milliseconds past zero, 0 before. */
export function overtimeMs(timer: SpeakingTimer, now: number): number {
  return Math.max(0, -remainingMs(timer, now));
}

/** Time actually spoken: wall time since the grant minus the time spent paused. */
export function spokenMs(timer: SpeakingTimer, now: number): number {
  const pausedNow = timer.pausedAt === null ? 0 : now - timer.pausedAt;
  return Math.max(0, now - timer.startedAt - timer.pausedMs - pausedNow);
}

/** Freezes the countdown. */
export function pauseSpeakingTimer(timer: SpeakingTimer, now: number): SpeakingTimer {
  return { ...timer, pausedAt: now };
}

/** Restarts the countdown; the deadline moves by the time spent paused. */
export function resumeSpeakingTimer(timer: SpeakingTimer, now: number): SpeakingTimer {
  if (timer.pausedAt === null) return timer;
  const paused = Math.max(0, now - timer.pausedAt);
  return { ...timer, pausedAt: null, pausedMs: timer.pausedMs + paused, deadline: timer.deadline + paused };
}

/**
 * Moves the deadline later by ms. Marks that are again ahead of the speaker are re-armed and the
 * expiry is re-armed when time is left, so each mark fires once per deadline the speaker sees.
 */
export function extendSpeakingTimer(timer: SpeakingTimer, ms: number, now: number): SpeakingTimer {
  const next = { ...timer, deadline: timer.deadline + ms, extendedMs: timer.extendedMs + ms };
  const left = remainingMs(next, now);
  next.warned = timer.warned.filter((m) => m * 1000 >= left);
  if (left > 0) next.expired = false;
  return next;
}

/** What a tick at now must announce: warning marks crossed, expiry, end of the grace period. */
export interface TimerSignals {
  timer: SpeakingTimer;
  warnings: number[];
  expired: boolean;
  graceOver: boolean;
}

/** Evaluates the timer at now: each mark once, expiry once, and whether close_mic must act. */
export function dueTimerSignals(timer: SpeakingTimer, now: number, rules: SpeakingRules): TimerSignals {
  if (timer.pausedAt !== null) return { timer, warnings: [], expired: false, graceOver: false };
  const left = remainingMs(timer, now);
  const warned = [...timer.warned];
  const warnings: number[] = [];
  for (const mark of warningMarks(rules)) {
    if (warned.includes(mark) || left > mark * 1000) continue;
    warned.push(mark);
    // A tick that arrives after zero skips the warnings silently: the expiry says it all.
    if (left > 0) warnings.push(mark);
  }
  const expired = !timer.expired && left <= 0;
  const graceOver = rules.expiryPolicy === 'close_mic' && left <= -graceMs(rules);
  return { timer: { ...timer, warned, expired: timer.expired || expired }, warnings, expired, graceOver };
}

/** The next instant a tick has something to do for this timer, or null (paused, or nothing left). */
export function timerWakeAt(timer: SpeakingTimer, rules: SpeakingRules): number | null {
  if (timer.pausedAt !== null) return null;
  const candidates: number[] = [];
  for (const mark of warningMarks(rules)) {
    if (!timer.warned.includes(mark)) candidates.push(timer.deadline - mark * 1000);
  }
  if (!timer.expired) candidates.push(timer.deadline);
  if (rules.expiryPolicy === 'close_mic') candidates.push(timer.deadline + graceMs(rules));
  return candidates.length === 0 ? null : Math.min(...candidates);
}

/** What displays need to draw the countdown. */
export interface SpeakingTimerView {
  deadline: number;
  limitMs: number;
  remainingMs: number;
  overtimeMs: number;
  paused: boolean;
}

/** Countdown as seen at now. */
export function speakingTimerView(timer: SpeakingTimer, now: number): SpeakingTimerView {
  return {
    deadline: timer.deadline,
    limitMs: timer.limitMs + timer.extendedMs,
    remainingMs: Math.max(0, remainingMs(timer, now)),
    overtimeMs: overtimeMs(timer, now),
    paused: timer.pausedAt !== null,
  };
}

function graceMs(rules: SpeakingRules): number {
  return Math.max(0, Number.isFinite(rules.graceSeconds) ? rules.graceSeconds : 0) * 1000;
}
