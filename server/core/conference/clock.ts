// Time for the application layer: the core takes `now` as an argument, the app reads the time
// and arms every timer (one-shot or repeating) through a Clock, and tests move a FakeClock
// forward instead of waiting. SystemClock is the one adapter to the wall clock and Node's timers.

/** Handle of a timer armed through a Clock. */
export interface ClockTimer {
  readonly id: number;
}

/** Options of a timer. */
export interface TimerOptions {
  /**
   * A background timer does not keep the process alive by itself (Node's `unref`): sampling,
   * lease renewals, polls. Timers that must fire (a speech's deadline) leave it unset.
   */
  background?: boolean;
}

/** Source of time and timers, injected so a 10-minute speech can be tested in milliseconds. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls fn once after ms milliseconds (0 when negative or not a number). */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): ClockTimer;
  /** Cancels a timer of either kind; a fired or unknown timer is ignored. */
  clearTimeout(timer: ClockTimer | undefined): void;
  /** Calls fn every ms milliseconds (at least 1) until cleared. */
  setInterval(fn: () => void, ms: number, options?: TimerOptions): ClockTimer;
  /** Cancels a repeating timer (the same as clearTimeout). */
  clearInterval(timer: ClockTimer | undefined): void;
}

/** Resolves after ms milliseconds of the clock (a FakeClock resolves when moved past it). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

// Node fires timers longer than 2^31-1 ms at once; longer waits are re-armed in steps.
const MAX_NODE_DELAY = 2_147_483_647;

/** Wall-clock time and Node timers: the only place the app reaches them. */
export class SystemClock implements Clock {
  #nextId = 1;
  readonly #handles = new Map<number, ReturnType<typeof setTimeout>>();

  /** Current epoch milliseconds. */
  now(): number {
    return Date.now();
  }

  /** Calls fn once after ms milliseconds (0 when negative or not a number). */
  setTimeout(fn: () => void, ms: number, options: TimerOptions = {}): ClockTimer {
    const id = this.#nextId++;
    const due = Date.now() + delayOf(ms);
    const arm = (): void => {
      const wait = Math.min(Math.max(0, due - Date.now()), MAX_NODE_DELAY);
      const handle = setTimeout(() => {
        if (Date.now() < due) return arm();
        this.#handles.delete(id);
        fn();
      }, wait);
      if (options.background) handle.unref();
      this.#handles.set(id, handle);
    };
    arm();
    return { id };
  }

  /** Calls fn every ms milliseconds (at least 1; longer than 2^31-1 ms is capped there). */
  setInterval(fn: () => void, ms: number, options: TimerOptions = {}): ClockTimer {
    const id = this.#nextId++;
    const handle = setInterval(fn, Math.min(periodOf(ms), MAX_NODE_DELAY));
    if (options.background) handle.unref();
    this.#handles.set(id, handle);
    return { id };
  }

  /** Cancels a timer of either kind; a fired or unknown timer is ignored. */
  clearTimeout(timer: ClockTimer | undefined): void {
    if (!timer) return;
    const handle = this.#handles.get(timer.id);
    if (handle === undefined) return;
    // clearTimeout and clearInterval are interchangeable in Node.
    clearTimeout(handle);
    this.#handles.delete(timer.id);
  }

  /** Cancels a repeating timer. */
  clearInterval(timer: ClockTimer | undefined): void {
    this.clearTimeout(timer);
  }
}

/** The process's wall clock, for parts that are not handed another one. */
export const systemClock: Clock = new SystemClock();

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
  /** The period of a repeating timer. */
  every?: number;
}

/** Manual time for tests: nothing happens until increment() moves it forward. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  /** Current fake epoch milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Arms fn at now + ms (0 when negative or not a number). */
  setTimeout(fn: () => void, ms: number): ClockTimer {
    const id = this.#nextId++;
    this.#timers.push({ id, at: this.#now + delayOf(ms), fn });
    return { id };
  }

  /** Arms fn every ms (at least 1), first at now + ms. */
  setInterval(fn: () => void, ms: number): ClockTimer {
    const id = this.#nextId++;
    const every = periodOf(ms);
    this.#timers.push({ id, at: this.#now + every, fn, every });
    return { id };
  }

  /** Cancels a timer of either kind; a fired or unknown timer is ignored. */
  clearTimeout(timer: ClockTimer | undefined): void {
    if (!timer) return;
    this.#timers = this.#timers.filter((t) => t.id !== timer.id);
  }

  /** Cancels a repeating timer. */
  clearInterval(timer: ClockTimer | undefined): void {
    this.clearTimeout(timer);
  }

  /** Number of armed timers (a repeating timer counts once). */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by ms, firing every timer that falls due, in order, at its own instant. */
  increment(ms: number): void {
    const target = this.#now + delayOf(ms);
    for (;;) {
      const next = this.#earliestDue(target);
      if (!next) break;
      this.#now = next.at;
      // A repeating timer is re-armed before it runs, so that it may clear itself.
      if (next.every !== undefined) next.at += next.every;
      else this.#timers = this.#timers.filter((t) => t !== next);
      // Timers armed by fn that fall within the window fire in this same call.
      next.fn();
    }
    this.#now = target;
  }

  #earliestDue(target: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > target) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    }
    return best;
  }
}

/** The app's single wake-up: after every decision it sets nextWakeAt(state); a new set replaces the old. */
export class WakeAlarm {
  readonly #clock: Clock;
  readonly #onWake: (now: number) => void;
  #timer: ClockTimer | null = null;
  #at: number | null = null;
  #closed = false;

  constructor(clock: Clock, onWake: (now: number) => void) {
    this.#clock = clock;
    this.#onWake = onWake;
  }

  /** The instant the alarm is armed for, or null. */
  get at(): number | null {
    return this.#at;
  }

  /** Arms the alarm at an epoch instant (past instants fire at once), or disarms it with null. */
  set(at: number | null): void {
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#at = null;
    if (at === null || this.#closed) return;
    this.#at = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.#at = null;
      this.#onWake(this.#clock.now());
    }, at - this.#clock.now());
  }

  /** Disarms for good; idempotent. */
  close(): void {
    this.set(null);
    this.#closed = true;
  }
}

function delayOf(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

// A period of 0 would fire for ever within one instant.
function periodOf(ms: number): number {
  return Math.max(1, delayOf(ms));
}
