// Listeners of one process, per conference: what the memory and SQLite stores use where redis has
// pub/sub. A listener told `later` hears after the writer's call returns (as over redis), and not
// at all if it stopped listening meanwhile.

/** Listeners per conference; a conference with none is forgotten. */
export class ConferenceWatchers<T> {
  readonly #sets = new Map<string, Set<(value: T) => void>>();

  watch(conferenceId: string, listener: (value: T) => void): { close(): Promise<void> } {
    let set = this.#sets.get(conferenceId);
    if (!set) this.#sets.set(conferenceId, (set = new Set()));
    set.add(listener);
    return {
      close: async () => {
        set.delete(listener);
        if (set.size === 0 && this.#sets.get(conferenceId) === set) this.#sets.delete(conferenceId);
      },
    };
  }

  tell(conferenceId: string, value: T, later = false): void {
    const set = this.#sets.get(conferenceId);
    if (!set) return;
    for (const fn of [...set]) {
      if (later) queueMicrotask(() => set.has(fn) && fn(value));
      else fn(value);
    }
  }

  clear(): void {
    this.#sets.clear();
  }
}
