import { formatClock } from './ui.ts';

/** How long "Đã kết nối lại" stays on screen. */
export const RECONNECTED_NOTICE_MS = 8000;

/**
 * Says what the link to the server is doing where a person looks: a red band "Mất kết nối…" while
 * it is down (not small text in a corner), and "Đã kết nối lại lúc 09:12:05" for a few seconds
 * once it is back (only after it was lost, not at the first connection).
 */
export class ConnectionNotice {
  readonly #lost: HTMLElement | null;
  readonly #back: HTMLElement;
  #everConnected = false;
  #down = false;
  #timer?: ReturnType<typeof setTimeout>;

  /** `lost`: the band shown while disconnected (optional); `back`: where "Đã kết nối lại" shows. */
  constructor(elements: { lost?: HTMLElement | null; back: HTMLElement }) {
    this.#lost = elements.lost ?? null;
    this.#back = elements.back;
  }

  /** The link's state now (call at every change); `now` is the time to show. */
  update(connected: boolean, now = Date.now()): void {
    if (connected) {
      if (this.#down && this.#everConnected) this.#showBack(now);
      this.#everConnected = true;
      this.#down = false;
    } else if (this.#everConnected) {
      this.#down = true;
      clearTimeout(this.#timer);
      this.#back.hidden = true;
    }
    if (this.#lost) this.#lost.hidden = connected || !this.#everConnected;
  }

  #showBack(now: number): void {
    this.#back.textContent = `Đã kết nối lại lúc ${formatClock(now)}`;
    this.#back.hidden = false;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => (this.#back.hidden = true), RECONNECTED_NOTICE_MS);
  }
}
