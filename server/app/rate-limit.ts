// Rate limits, one source: every request of every role (staff included) is taken from a budget
// per principal and per class of request, a sliding window on the injected clock. The limits are
// far above what a real meeting needs (a chair gives a few commands a minute, a hall reports its
// link every 2 s) and far below what a stuck button, a script or a hostile client sends. A
// refused use does not count. Each server process keeps its own budgets.
import type { Clock } from '../core/conference/index.ts';
import type { ControlRequestName, Principal } from '../protocol/control.ts';
import type { MediaRequestName } from '../protocol/media.ts';

/** Options of a RateLimit. */
export interface RateLimitOptions {
  /** Uses allowed per key in one window. */
  limit: number;
  windowMs: number;
  clock: Clock;
  /** Keys kept at most (budgets of unknown addresses); past it, the idle ones are forgotten first. */
  maxKeys?: number;
}

/** At most `limit` uses per key in any `windowMs`; a refused use does not count. */
export class RateLimit {
  readonly limit: number;
  readonly windowMs: number;
  readonly #clock: Clock;
  readonly #maxKeys: number;
  /** The instants of the uses still inside the window, per key. */
  readonly #uses = new Map<string, number[]>();

  constructor(options: RateLimitOptions) {
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.#clock = options.clock;
    this.#maxKeys = options.maxKeys ?? 10_000;
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
    this.#uses.delete(key);
    this.#uses.set(key, recent);
    if (this.#uses.size > this.#maxKeys) this.#forget(now);
    return true;
  }

  /** Keys with a budget in use (tests, metrics). */
  get size(): number {
    return this.#uses.size;
  }

  // Forgets keys whose window is empty, then the least recently used until back under the cap.
  #forget(now: number): void {
    for (const [key, uses] of this.#uses) if (uses.every((t) => now - t >= this.windowMs)) this.#uses.delete(key);
    for (const key of this.#uses.keys()) {
      if (this.#uses.size <= this.#maxKeys) break;
      this.#uses.delete(key);
    }
  }
}

/** A budget: uses per window. */
export interface Budget {
  limit: number;
  windowMs: number;
}

const MINUTE = 60_000;

/** The budgets of each class of request, per principal (a role's token, or one hall's operator). */
export const REQUEST_LIMITS = {
  /** Socket connections opened (a hall back from a blip opens three: panel, display, media). */
  connect: { limit: 120, windowMs: MINUTE },
  /** Conference commands (a chair gives a few a minute; 5,000 set_date in 4 s is not a person). */
  command: { limit: 60, windowMs: MINUTE },
  /** Floor requests for one hall (a stuck button must not flood the queue). */
  floor_request: { limit: 5, windowMs: MINUTE },
  /** Back-channel messages of one sender (a hall, or a staff role): a conversation, not a flood. */
  message: { limit: 10, windowMs: MINUTE },
  /** Reads: view snapshots, clock samples (6 at connect, 6 every 30 s), a bridge's history. */
  read: { limit: 300, windowMs: MINUTE },
  /** A hall's link reports (one every 2 s is 30 a minute, with two tabs 60). */
  link_report: { limit: 120, windowMs: MINUTE },
  /** Pre-meeting link tests, asked by staff and answered by halls. */
  link_test: { limit: 30, windowMs: MINUTE },
  /** Media signalling: join, capabilities, transports, producers, thumbnail pages. */
  media: { limit: 300, windowMs: MINUTE },
  /** REST requests of one token, or of one address without a valid token. */
  rest: { limit: 300, windowMs: MINUTE },
  /** Plan checks and loads (each file is parsed and checked in a worker). */
  plan: { limit: 10, windowMs: MINUTE },
} as const satisfies Record<string, Budget>;

/** A class of request, with its own budget per principal. */
export type RequestClass = keyof typeof REQUEST_LIMITS;

/** The class of every socket request of both namespaces (a request added to the protocol without its class does not compile). */
export const SOCKET_REQUEST_CLASSES: Readonly<Record<ControlRequestName | MediaRequestName, RequestClass>> = Object.freeze({
  'control:command': 'command',
  'control:snapshot': 'read',
  'time:sync': 'read',
  'health:report': 'link_report',
  'health:bridge': 'read',
  'health:startTest': 'link_test',
  'health:testResult': 'link_test',
  'media:join': 'media',
  'media:capabilities': 'media',
  'media:createTransport': 'media',
  'media:connectTransport': 'media',
  'media:produce': 'media',
  'media:thumbnails': 'media',
  // Where a page's media goes (placing it if needed), and the staff's view of the media nodes.
  'media:where': 'media',
  // A transport's new ICE credentials, and how a hall's video leaves it (audio only, or back).
  'media:restartIce': 'media',
  'media:sendMode': 'media',
  'cluster:nodes': 'read',
});

/** The key of a principal's budgets: its role (one token per staff role), or its hall. */
export function principalKey(p: Principal): string {
  return p.role === 'operator' ? `operator:${p.bridgeId}` : p.role;
}

/** A refusal for a used-up budget, with the stable code. */
export interface RateRefusal {
  ok: false;
  error: { code: 'rate_limited'; message: string };
}

/** The budgets of every class, on one clock. */
export class RequestLimits {
  readonly #limits = new Map<RequestClass, RateLimit>();

  constructor(clock: Clock, budgets: Readonly<Record<RequestClass, Budget>> = REQUEST_LIMITS) {
    for (const [name, budget] of Object.entries(budgets) as [RequestClass, Budget][]) {
      this.#limits.set(name, new RateLimit({ ...budget, clock }));
    }
  }

  /** Takes one use of a class for a key (a principal's, an address's); a refusal when used up. */
  take(cls: RequestClass, key: string): RateRefusal | null {
    const limit = this.#limits.get(cls)!;
    if (limit.take(key)) return null;
    return { ok: false, error: { code: 'rate_limited', message: `at most ${limit.limit} ${cls} requests per ${limit.windowMs / 1000} s [class:${cls}]` } };
  }
}
