// The control instances a page may talk to (DIEMCAU_CONTROL_URLS, handed over by /api/me), and
// the order it tries them in when the one it talks to goes away: sockets and REST alike. No DOM
// here: the rotation is unit-tested in Node.

/** Origins without a trailing slash, the page's own first, then the configured ones from the one after it (deduplicated). */
export function controlUrlList(origin: string, configured: readonly string[] = []): string[] {
  const clean = (u: string): string => u.trim().replace(/\/+$/, '');
  const list = [...new Set(configured.map(clean).filter(Boolean))];
  const self = clean(origin);
  const at = list.indexOf(self);
  // From the page's own position on: pages of different instances spread over the others in turn.
  const rotated = at < 0 ? list : [...list.slice(at + 1), ...list.slice(0, at)];
  return [self, ...rotated.filter((u) => u !== self)];
}

/** The delay before the n-th attempt (0-based) to reach a control instance: 500 ms doubling up to 3 s, ±50 %. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(3000, 500 * 2 ** Math.min(attempt, 6));
  return Math.round(base * (0.5 + random()));
}

/** Statuses of a control instance that is there but cannot serve (a proxy in front of a dead one): try the next. */
const UNAVAILABLE = new Set([502, 503, 504]);

/** The control instances of a deployment, as one page uses them. */
export class ControlEndpoints {
  readonly urls: readonly string[];
  #index = 0;

  constructor(origin: string, configured: readonly string[] = []) {
    this.urls = controlUrlList(origin, configured);
  }

  /** The one to use now. */
  get current(): string {
    return this.urls[this.#index]!;
  }

  /**
   * The one to try after `failed` did not answer: the next in the list. When another caller
   * (the socket, a REST call) already moved on from `failed`, the one it moved to.
   */
  next(failed: string): string {
    if (this.current === failed) this.#index = (this.#index + 1) % this.urls.length;
    return this.current;
  }

  /** A connection to `url` works: REST goes there too. */
  use(url: string): void {
    const i = this.urls.indexOf(url);
    if (i >= 0) this.#index = i;
  }

  /**
   * fetch() of a path on the instance in use; when it does not answer (a network error, or
   * 502/503/504 from a proxy in front of it), the same request on the next ones, each once.
   */
  async fetch(path: string, init?: RequestInit, fetchImpl: typeof fetch = fetch): Promise<Response> {
    let last: unknown;
    for (let tried = 0; tried < this.urls.length; tried++) {
      const url = this.current;
      try {
        const res = await fetchImpl(`${url}${path}`, init);
        if (!UNAVAILABLE.has(res.status) || tried === this.urls.length - 1) {
          this.use(url);
          return res;
        }
        last = new Error(`HTTP ${res.status}`);
      } catch (error) {
        last = error;
      }
      this.next(url);
    }
    throw last instanceof Error ? last : new Error(String(last));
  }
}
