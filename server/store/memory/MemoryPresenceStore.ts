// The embedded default store of presence leases: in this process, expiring on the injected clock.
import { SystemClock, type Clock } from '../../core/conference/index.ts';
import type { PresenceStore } from '../PresenceStore.ts';
import { OpenGuard } from './OpenGuard.ts';

interface Lease {
  bridgeIds: string[];
  until: number;
}

/** Presence leases kept in this process (one instance: its own lease only, unless tests add others). */
export class MemoryPresenceStore implements PresenceStore {
  readonly #leases = new Map<string, Map<string, Lease>>();
  readonly #clock: Clock;
  readonly #open = new OpenGuard();

  constructor(clock: Clock = new SystemClock()) {
    this.#clock = clock;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#open.closed;
  }

  /** Declares this instance's connected bridges until now + ttlMs. */
  async setPresence(conferenceId: string, instanceId: string, bridgeIds: readonly string[], ttlMs: number): Promise<void> {
    this.#open.assert(conferenceId);
    let conference = this.#leases.get(conferenceId);
    if (!conference) this.#leases.set(conferenceId, (conference = new Map()));
    conference.set(instanceId, { bridgeIds: [...bridgeIds], until: this.#clock.now() + ttlMs });
  }

  /** Bridges on other live instances. */
  async presentElsewhere(conferenceId: string, exceptInstanceId: string): Promise<Set<string>> {
    this.#open.assert(conferenceId);
    const out = new Set<string>();
    const now = this.#clock.now();
    for (const [id, lease] of this.#leases.get(conferenceId) ?? []) {
      if (id === exceptInstanceId || lease.until < now) continue;
      for (const b of lease.bridgeIds) out.add(b);
    }
    return out;
  }

  /** Forgets a conference's leases. */
  async dropPresence(conferenceId: string): Promise<void> {
    this.#open.assert(conferenceId);
    this.#leases.delete(conferenceId);
  }

  /** Drops every lease; idempotent. */
  async close(): Promise<void> {
    if (this.#open.close()) this.#leases.clear();
  }
}
