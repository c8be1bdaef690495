// A sliding-window rate limit on the injected clock: at most `limit` uses per key in any window of
// `windowMs`. The floor requests of a hall use it (a stuck button must not flood the queue).
import type { Clock } from '../core/conference/index.ts';

/** Options of a RateLimit. */
export interface RateLimitOptions {
  /** Uses allowed per key in one window. */
  limit: number;
  windowMs: number;
  clock: Clock;
}

/** At most `limit` uses per key in any `windowMs`; a refused use does not count. */
export class RateLimit {
  readonly limit: number;
  readonly windowMs: number;
  readonly #clock: Clock;
  /** The instants of the uses still inside the window, per key. */
  readonly #uses = new Map<string, number[]>();

  constructor(options: RateLimitOptions) {
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.#clock = options.clock;
  }

  /** Takes one use for the key now; false (and nothing taken) when the key has used up its window. */
  take(key: string): boolean {
    const now = this.#clock.now();
    const recent = (this.#uses.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (recent.length >= this.limit) {
      this.#uses.set(key, recent);
      return false;
    }
    recent.push(now);
    this.#uses.set(key, recent);
    return true;
  }
}
