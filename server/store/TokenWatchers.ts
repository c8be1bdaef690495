// The watchers of token announcements of a store whose writers are all in this process (the
// memory store, and the SQLite store whose file is held exclusively): an announcement reaches
// every watcher synchronously, before the write's call returns, so no request can see a new
// token before its process has heard that the old one stopped.
import type { StoreSubscription } from './ConferenceStore.ts';
import type { TokenAnnouncement, TokenAnnouncementListener } from './TokenStore.ts';

/** Watchers of each conference's token announcements, in this process. */
export class TokenWatchers {
  readonly #watchers = new Map<string, Set<TokenAnnouncementListener>>();

  /** Adds a watcher of a conference; its subscription's close() removes it (idempotent). */
  watch(conferenceId: string, listener: TokenAnnouncementListener): StoreSubscription {
    let set = this.#watchers.get(conferenceId);
    if (!set) this.#watchers.set(conferenceId, (set = new Set()));
    set.add(listener);
    const watchers = set;
    return {
      close: async () => {
        watchers.delete(listener);
        if (watchers.size === 0 && this.#watchers.get(conferenceId) === watchers) this.#watchers.delete(conferenceId);
      },
    };
  }

  /** Tells every watcher of a conference; a throwing watcher neither undoes the change nor keeps the others from hearing. */
  announce(conferenceId: string, announcement: TokenAnnouncement): void {
    for (const listener of [...(this.#watchers.get(conferenceId) ?? [])]) {
      try {
        listener(announcement);
      } catch {
        // The watcher's own problem.
      }
    }
  }

  /** Forgets every watcher (the store closed). */
  clear(): void {
    this.#watchers.clear();
  }
}
