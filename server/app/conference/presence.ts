// Roll-call presence of the halls across server instances. A hall is online from its first
// socket on any instance (a hardware hall: while its device's media arrives) and offline when its
// last one has gone everywhere. Each instance declares the halls it has under a lease in the
// presence store and renews it. Every instance sweeps, always, every few seconds: halls the state
// has online that no live instance holds (they were on an instance that died) go offline, at most
// PRESENCE_OFFLINE_WITHIN_MS after that instance died. After a (re)start, halls that nobody held
// when this instance came up (their instance died before, perhaps this one) get the grace to come
// back; a hall this instance saw held elsewhere since its start is swept as soon as it is not.
//
// Changes are batched (a join storm of thousands of halls): the halls whose first socket came or
// last socket went are collected, and one flush at a time writes the lease once and reports them
// all in one call (one state command). A flush starts on the next turn of the event loop, so a
// lone hall is online at once; halls that arrive while one runs go in the next. Per hall, the
// order stays: the lease names it before it is reported online, and a hall that left is checked
// against the other instances' leases after this one's lease no longer names it. A second socket
// of a hall whose first is still being reported resolves with that report, not before it.
//
// Reports of different instances reach the state in the order their writes win, not the order
// their decisions were taken: a hall that moved from one instance to another may have its
// "offline" (decided from leases read before the other instance leased it) written after the
// other instance's "online", which found it still online and changed nothing; a sweep may
// likewise take offline, from leases it read a moment earlier, a hall that came back since. So
// the sweep also repairs: a hall that has a connection here and that the state has offline
// (with no flush of this instance about to report it) is reported online again. The state
// follows the leases within one sweep, whatever order the writes came in.
import { randomUUID } from 'node:crypto';
import type { Clock, ClockTimer, PresenceChange } from '../../core/conference/index.ts';
import type { PresenceStore } from '../../store/index.ts';

/** How long this instance's lease lives without renewal. */
export const PRESENCE_LEASE_MS = 12_000;
/** How often the lease is renewed (four renewals per lease: a stalled event loop does not lose it). */
export const PRESENCE_RENEW_MS = 3_000;
/** How often every instance looks for halls no live instance holds. */
export const PRESENCE_SWEEP_MS = 2_000;
/** A dead instance's halls are offline at most this long after it died: its last lease, then one sweep (the 15 s). */
export const PRESENCE_OFFLINE_WITHIN_MS = PRESENCE_LEASE_MS + PRESENCE_SWEEP_MS;
/** After a (re)start, how long halls the state has online get to reconnect before they count as dropped. */
export const PRESENCE_GRACE_MS = 20_000;

/** How a hall is connected: its sockets (browser halls), or its device's media (hardware halls). */
export type PresenceVia = 'socket' | 'device';

/** Options of HallPresence.start. */
export interface HallPresenceOptions {
  conferenceId: string;
  store: PresenceStore;
  clock: Clock;
  /** Hardware halls: online through their device only, never through sockets. */
  deviceBridges: ReadonlySet<string>;
  /** The halls the conference state has online now. */
  onlineInState: () => readonly string[];
  /** Whether the conference state has this hall at all (a stored conference may predate the plan); every hall by default. */
  knownInState?: (bridgeId: string) => boolean;
  /** Tells the conference that halls came online or went offline, in order (one call per flush or sweep). */
  report: (changes: readonly PresenceChange[]) => Promise<void>;
  /** Something failed with no caller to tell. */
  problem: (message: string, error: unknown) => void;
  /** This instance in the shared leases (a random id by default). */
  instanceId?: string;
  graceMs?: number;
  leaseMs?: number;
  renewMs?: number;
  sweepMs?: number;
}

/** The halls connected to this instance, leased to the others, and the sweep of halls nobody has. */
export class HallPresence {
  /** This server instance, in the shared roll-call leases. */
  readonly instanceId: string;
  readonly #options: HallPresenceOptions;
  readonly #clock: Clock;
  readonly #leaseMs: number;
  /** Sockets (or the device) per bridge on this instance: a bridge is here while it has one. */
  readonly #connections = new Map<string, number>();
  #renewTimer: ClockTimer | undefined;
  #sweepTimer: ClockTimer | undefined;
  #sweeping = false;
  /** Until then, only halls seen held by another live instance since the start are swept. */
  readonly #graceUntil: number;
  /** Halls seen held by another live instance during the grace. */
  readonly #heldSince = new Set<string>();
  /** Halls whose first socket came or last socket went here since the last flush took them. */
  readonly #touched = new Set<string>();
  /** The flush that will take the halls touched so far; resolved when it has reported them. */
  #nextFlush: { promise: Promise<void>; resolve: () => void } | null = null;
  /** The flush under way: the halls it took, resolved when it has reported them. */
  #current: { halls: ReadonlySet<string>; promise: Promise<void> } | null = null;
  #flushing = false;
  /** The presence store failed at the last sweep (reported once per failing spell). */
  #storeFailing = false;
  #quiet = false;
  #closed = false;

  private constructor(options: HallPresenceOptions) {
    this.#options = options;
    this.#clock = options.clock;
    this.#leaseMs = options.leaseMs ?? PRESENCE_LEASE_MS;
    this.instanceId = options.instanceId ?? randomUUID();
    this.#graceUntil = options.clock.now() + (options.graceMs ?? PRESENCE_GRACE_MS);
  }

  /** Leases at once, renews every renewMs, and sweeps every sweepMs. */
  static start(options: HallPresenceOptions): HallPresence {
    const presence = new HallPresence(options);
    const clock = options.clock;
    void presence.#lease();
    presence.#renewTimer = clock.setInterval(() => void presence.#lease(), options.renewMs ?? PRESENCE_RENEW_MS, { background: true });
    presence.#sweepTimer = clock.setInterval(() => void presence.sweep(), options.sweepMs ?? PRESENCE_SWEEP_MS, { background: true });
    return presence;
  }

  /** Whether the bridge has a socket (or its device) on this instance. */
  has(bridgeId: string): boolean {
    return this.#connections.has(bridgeId);
  }

  /**
   * A socket of this bridge connected here (or its device's media started): online from the first.
   * Resolves when the state has been told (with the other halls of the same flush); for a further
   * socket, when the report its first one started is done.
   */
  async connected(bridgeId: string, via: PresenceVia = 'socket'): Promise<void> {
    if (!this.#counts(bridgeId, via)) return;
    const n = (this.#connections.get(bridgeId) ?? 0) + 1;
    this.#connections.set(bridgeId, n);
    if (n > 1) return this.#reported(bridgeId);
    await this.#touch(bridgeId);
  }

  /** A socket of this bridge went away: offline when its last one on every instance has gone. */
  async disconnected(bridgeId: string, via: PresenceVia = 'socket'): Promise<void> {
    if (!this.#counts(bridgeId, via)) return;
    const n = (this.#connections.get(bridgeId) ?? 0) - 1;
    if (n > 0) {
      this.#connections.set(bridgeId, n);
      return;
    }
    this.#connections.delete(bridgeId);
    await this.#touch(bridgeId);
  }

  /**
   * Takes offline the halls the state has online but that no live instance has (they were on a
   * server that crashed); a hall that held the floor then returns it to the chair (the core's
   * rule for a holder that dropped). When the presence store cannot be read, nothing is swept.
   * And takes online again the halls connected here that the state has offline (an offline report
   * from another instance, or another instance's sweep, written after this one's online).
   */
  async sweep(): Promise<void> {
    if (this.#quiet || this.#closed || this.#sweeping) return;
    this.#sweeping = true;
    try {
      // The state first: a hall that comes online meanwhile is not in this list, and one in it
      // that another instance holds was leased there before that instance reported it online.
      const online = [...this.#options.onlineInState()];
      const elsewhere = await this.#elsewhere();
      const changes: PresenceChange[] = [];
      if (elsewhere) {
        const inGrace = this.#clock.now() < this.#graceUntil;
        if (inGrace) for (const id of elsewhere) this.#heldSince.add(id);
        for (const bridgeId of online) {
          if (this.#connections.has(bridgeId) || elsewhere.has(bridgeId)) continue;
          if (inGrace && !this.#heldSince.has(bridgeId)) continue;
          changes.push({ bridgeId, online: false });
        }
      }
      // The state as it is now (a flush may have reported halls while the store was read); halls
      // a flush is about to report are left to it. Nothing is awaited between this look and the
      // report, so a hall that leaves after it is reported offline after this.
      const onlineNow = new Set(this.#options.onlineInState());
      const known = this.#options.knownInState ?? (() => true);
      for (const bridgeId of this.#connections.keys()) {
        if (!onlineNow.has(bridgeId) && !this.#pending(bridgeId) && known(bridgeId)) changes.push({ bridgeId, online: true });
      }
      // A dead instance's thousands of halls: one command.
      await this.#report(changes);
    } finally {
      this.#sweeping = false;
    }
  }

  /**
   * Stops roll-call updates from this instance: an orderly shutdown disconnects every socket, and
   * that is not the halls dropping off (the speaker keeps the floor through a restart).
   */
  quiesce(): void {
    this.#quiet = true;
    this.#stopTimers();
  }

  /** Stops for good (the lease runs out by itself); idempotent. */
  close(): void {
    this.#closed = true;
    this.#stopTimers();
  }

  // Whether this connection counts: not after quiesce or close, and hardware halls only through their device.
  #counts(bridgeId: string, via: PresenceVia): boolean {
    if (this.#quiet || this.#closed) return false;
    return (via === 'device') === this.#options.deviceBridges.has(bridgeId);
  }

  /** Marks a hall for the next flush and starts one if none is under way; resolves when that flush is done. */
  #touch(bridgeId: string): Promise<void> {
    this.#touched.add(bridgeId);
    if (!this.#nextFlush) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#nextFlush = { promise, resolve };
      // On the next turn: the connections that arrived in this one go together. A turn of the
      // event loop, not a time: no clock is read, and on a FakeClock (servers under test) the
      // first view of a hall still comes without the test moving time.
      if (!this.#flushing) setImmediate(() => void this.#drain());
    }
    return this.#nextFlush.promise;
  }

  /** Whether a flush under way or to come will report this hall. */
  #pending(bridgeId: string): boolean {
    return this.#touched.has(bridgeId) || (this.#current?.halls.has(bridgeId) ?? false);
  }

  /** Resolves when the flush that will report this hall (to come, or under way) is done; at once when none will. */
  #reported(bridgeId: string): Promise<void> {
    if (this.#nextFlush && this.#touched.has(bridgeId)) return this.#nextFlush.promise;
    if (this.#current?.halls.has(bridgeId)) return this.#current.promise;
    return Promise.resolve();
  }

  /** Flushes, one at a time, until no hall waits. */
  async #drain(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#nextFlush) {
        const flush = this.#nextFlush;
        this.#nextFlush = null;
        const touched = [...this.#touched];
        this.#touched.clear();
        this.#current = { halls: new Set(touched), promise: flush.promise };
        try {
          await this.#flush(touched);
        } finally {
          this.#current = null;
          flush.resolve();
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * The lease once (it names every hall here), then the halls' changes in one report: online
   * those here, offline those gone that no other live instance holds. A hall touched again while
   * this flush ran waits for the next one, which looks at it afresh.
   */
  async #flush(touched: readonly string[]): Promise<void> {
    if (touched.length === 0 || this.#closed) return;
    await this.#lease();
    const gone = touched.some((b) => !this.#connections.has(b));
    const elsewhere = gone ? await this.#elsewhere() : null;
    const changes: PresenceChange[] = [];
    for (const bridgeId of touched) {
      if (this.#touched.has(bridgeId)) continue;
      if (this.#connections.has(bridgeId)) changes.push({ bridgeId, online: true });
      else if (!elsewhere?.has(bridgeId)) changes.push({ bridgeId, online: false });
    }
    await this.#report(changes);
  }

  /** Renews this instance's lease: the bridges with a connection here. */
  async #lease(): Promise<void> {
    if (this.#closed) return;
    const o = this.#options;
    await o.store.setPresence(o.conferenceId, this.instanceId, [...this.#connections.keys()], this.#leaseMs).catch((e: unknown) => o.problem('presence lease failed', e));
  }

  /** The halls other live instances hold; null when the store cannot say. */
  async #elsewhere(): Promise<Set<string> | null> {
    const o = this.#options;
    try {
      const found = await o.store.presentElsewhere(o.conferenceId, this.instanceId);
      this.#storeFailing = false;
      return found;
    } catch (error) {
      if (!this.#storeFailing) o.problem('presence store unreadable: nothing swept', error);
      this.#storeFailing = true;
      return null;
    }
  }

  async #report(changes: readonly PresenceChange[]): Promise<void> {
    if (this.#closed || changes.length === 0) return;
    await this.#options.report(changes).catch((e: unknown) => this.#options.problem(`presence report failed [halls:${changes.length}, first:${changes[0]!.bridgeId}]`, e));
  }

  #stopTimers(): void {
    this.#clock.clearInterval(this.#renewTimer);
    this.#clock.clearInterval(this.#sweepTimer);
    this.#renewTimer = this.#sweepTimer = undefined;
  }
}
