// Typed events of the browser's clients: each event name maps to what its listeners receive, so
// the apps never cast what a client tells them.

/** Listeners by event, typed by an event map (name → what a listener receives). */
export class TypedEvents<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(detail: never) => void>>();

  /** Subscribes to an event. */
  on<K extends keyof Events>(event: K, fn: (detail: Events[K]) => void): void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as (detail: never) => void);
  }

  /** Unsubscribes a listener. */
  off<K extends keyof Events>(event: K, fn: (detail: Events[K]) => void): void {
    this.#listeners.get(event)?.delete(fn as (detail: never) => void);
  }

  /** Calls every listener of the event with its detail. */
  emit<K extends keyof Events>(event: K, detail: Events[K]): void {
    for (const fn of this.#listeners.get(event) ?? []) (fn as (detail: Events[K]) => void)(detail);
  }
}
