// Time for the application layer: the core takes `now` as an argument, the app arms its one
// wake-up through a Clock, and tests move a FakeClock forward instead of waiting.

/** Handle of a timer armed through a Clock. */
export interface ClockTimer {
  readonly id: number;
}

/** Source of time and timers, injected so a 10-minute speech can be tested in milliseconds. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
}

// Node fires timers longer than 2^31-1 ms at once; longer waits are re-armed in steps.
const MAX_NODE_DELAY = 2_147_483_647;

/** Wall-clock time and Node timers. */
export class SystemClock implements Clock {
  #nextId = 1;
  readonly #handles = new Map<number, ReturnType<typeof setTimeout>>();

  /** Current epoch milliseconds. */
  now(): number {
    return Date.now();
  }

  /** Calls fn once after ms milliseconds (0 when negative or not a number). */
  setTimeout(fn: () => void, ms: number): ClockTimer {
    const id = this.#nextId++;
    const due = Date.now() + delayOf(ms);
    const arm = (): void => {
      const wait = Math.min(Math.max(0, due - Date.now()), MAX_NODE_DELAY);
      this.#handles.set(
        id,
        setTimeout(() => {
          if (Date.now() < due) return arm();
          this.#handles.delete(id);
          fn();
        }, wait),
      );
    };
    arm();
    return { id };
  }

  /** Cancels a timer; a fired or unknown timer is ignored. */
  clearTimeout(timer: ClockTimer): void {
    const handle = this.#handles.get(timer.id);
    if (handle === undefined) return;
    clearTimeout(handle);
    this.#handles.delete(timer.id);
  }
}

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
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

  /** Cancels a timer; a fired or unknown timer is ignored. */
  clearTimeout(timer: ClockTimer): void {
    this.#timers = this.#timers.filter((t) => t.id !== timer.id);
  }

  /** Number of armed timers. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by ms, firing every timer that falls due, in order, at its own instant. */
  increment(ms: number): void {
    const target = this.#now + delayOf(ms);
    for (;;) {
      const next = this.#earliestDue(target);
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.at;
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
