// The shared screen's picture, watched: the share in the conference state (`screen`) against
// whether its hall's `screen` track is live (on this process's media, or in the media nodes' track
// registry). A share that has had no live track for its grace (the core's screenSourceDeadline)
// is ended through the core as the system, `screen_source_lost`: the sharing PC crashed, lost
// power or its network, and no page was left to say so. The rule and its limits are the core's
// (screen.ts); this only keeps the time and issues the command.
import { screenSourceDeadline, SYSTEM_ACTOR, WakeAlarm, type Clock } from '../../core/conference/index.ts';
import type { MediaSession } from '../../../sfu/index.ts';
import type { NodeRegistry, NodeWatch, TrackRegistry, TrackWatch } from '../../store/index.ts';
import { coalescing } from '../coalesce.ts';
import type { ConferenceRunner } from './ConferenceRunner.ts';

/** How soon a screen_source_lost the store failed to write is issued again. */
const RETRY_MS = 1000;

/** Where the watch learns whether a hall's shared screen arrives. */
export interface ScreenTracks {
  /** Whether the hall's `screen` track is live now. */
  live(bridgeId: string): boolean;
  /** Calls listener after every change of the screen tracks; returns the unsubscription. */
  watch(listener: () => void): () => void;
  /** Stops following (called by the watch's close). */
  close?(): Promise<void> | void;
}

/** Options of ScreenSourceWatch.start. */
export interface ScreenSourceWatchOptions {
  runner: Pick<ConferenceRunner, 'state' | 'execute' | 'on' | 'off'>;
  tracks: ScreenTracks;
  clock: Clock;
  problem: (message: string, error: unknown) => void;
}

/** Ends a share whose picture is gone (see the file's comment). */
export class ScreenSourceWatch {
  readonly #o: ScreenSourceWatchOptions;
  /** When this watch began: a share older than that found without its track counts as gone from then (a restart). */
  readonly #since: number;
  readonly #alarm: WakeAlarm;
  readonly #unwatch: () => void;
  /** The share watched now (its hall and start), or null. */
  #share: { bridgeId: string; startedAt: number } | null = null;
  #live = false;
  /** When the watched share's track went (null: none has come since it started). */
  #goneAt: number | null = null;
  /** The share a screen_source_lost was issued for (not issued twice). */
  #issued: string | null = null;
  #closed = false;
  readonly #onState = (): void => this.#check();

  private constructor(o: ScreenSourceWatchOptions) {
    this.#o = o;
    this.#since = o.clock.now();
    this.#alarm = new WakeAlarm(o.clock, () => this.#check());
    this.#unwatch = o.tracks.watch(() => this.#check());
    o.runner.on('state', this.#onState);
  }

  /** Starts watching the conference's share (and judges the one on now, if any). */
  static start(options: ScreenSourceWatchOptions): ScreenSourceWatch {
    const watch = new ScreenSourceWatch(options);
    watch.#check();
    return watch;
  }

  /** The instant the share on now ends if its track does not come (back), or null (no share, or its track is live). */
  get deadline(): number | null {
    return this.#alarm.at;
  }

  /** Stops watching and closes its tracks; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#alarm.close();
    this.#unwatch();
    this.#o.runner.off('state', this.#onState);
    await this.#o.tracks.close?.();
  }

  #check(): void {
    if (this.#closed) return;
    const now = this.#o.clock.now();
    const screen = this.#o.runner.state.screen ?? null;
    if (!screen) {
      this.#share = null;
      this.#alarm.set(null);
      return;
    }
    const live = this.#o.tracks.live(screen.bridgeId);
    const share = this.#share;
    if (!share || share.bridgeId !== screen.bridgeId || share.startedAt !== screen.startedAt) {
      this.#share = { bridgeId: screen.bridgeId, startedAt: screen.startedAt };
      this.#goneAt = live || screen.startedAt >= this.#since ? null : this.#since;
    } else if (this.#live && !live) {
      this.#goneAt = now;
    }
    this.#live = live;
    if (live) return this.#alarm.set(null);
    const deadline = screenSourceDeadline(screen, this.#goneAt);
    if (deadline > now) return this.#alarm.set(deadline);
    this.#alarm.set(null);
    this.#lost(screen.bridgeId, screen.startedAt);
  }

  #lost(bridgeId: string, startedAt: number): void {
    const key = `${bridgeId}@${startedAt}`;
    if (this.#issued === key) return;
    this.#issued = key;
    const retry = (): void => {
      // The store failed: try again in a moment (the share is still judged lost).
      if (this.#closed || this.#issued !== key) return;
      this.#issued = null;
      this.#alarm.set(this.#o.clock.now() + RETRY_MS);
    };
    this.#o.runner.execute({ type: 'screen_source_lost', actor: SYSTEM_ACTOR, bridgeId, startedAt }).then(
      (result) => {
        if (result.ok || result.error.code === 'closed') return;
        this.#o.problem('screen_source_lost refused', result.error);
        if (result.error.code === 'unavailable') retry();
      },
      (error: unknown) => {
        this.#o.problem('screen_source_lost failed', error);
        retry();
      },
    );
  }
}

/** The screen tracks of this process's media session (every page's media is here: no media nodes). */
export function sessionScreenTracks(session: MediaSession): ScreenTracks {
  return {
    live: (bridgeId) => !session.closed && session.publishes(bridgeId, 'screen'),
    watch: (listener) => {
      const on = (p: { source: string }): void => {
        if (p.source === 'screen') listener();
      };
      session.on('publishing', on);
      return () => session.off('publishing', on);
    },
  };
}

/**
 * The screen tracks the media nodes publish in the track registry (a deployment of several
 * nodes: the sharing page's media may be on any of them), those of nodes whose lease is alive.
 * A failed read keeps what was known: a store's hiccup must not end a share.
 */
export class RegistryScreenTracks implements ScreenTracks {
  readonly #conferenceId: string;
  readonly #tracks: TrackRegistry;
  readonly #nodes: NodeRegistry;
  readonly #problem: (message: string, error: unknown) => void;
  readonly #listeners = new Set<() => void>();
  #live = new Set<string>();
  #watches: (TrackWatch | NodeWatch)[] = [];
  #closed = false;
  /** Reads the registry again (one read for a burst of changes). */
  readonly reload = coalescing(() => this.#load());

  private constructor(conferenceId: string, tracks: TrackRegistry, nodes: NodeRegistry, problem: (message: string, error: unknown) => void) {
    this.#conferenceId = conferenceId;
    this.#tracks = tracks;
    this.#nodes = nodes;
    this.#problem = problem;
  }

  /** Reads the registry and follows its changes and those of the live nodes. */
  static async start(o: { conferenceId: string; tracks: TrackRegistry; nodes: NodeRegistry; problem: (message: string, error: unknown) => void }): Promise<RegistryScreenTracks> {
    const t = new RegistryScreenTracks(o.conferenceId, o.tracks, o.nodes, o.problem);
    t.#watches.push(await o.tracks.watchTracks(o.conferenceId, () => void t.reload()));
    t.#watches.push(await o.nodes.watchNodes(() => void t.reload()));
    await t.reload();
    return t;
  }

  live(bridgeId: string): boolean {
    return this.#live.has(bridgeId);
  }

  watch(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops following the registry; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await Promise.allSettled(this.#watches.map((w) => w.close()));
  }

  async #load(): Promise<void> {
    if (this.#closed) return;
    try {
      const [records, nodes] = await Promise.all([this.#tracks.tracks(this.#conferenceId), this.#nodes.liveNodes()]);
      const alive = new Set(nodes.map((n) => n.nodeId));
      const live = new Set(records.filter((r) => r.source === 'screen' && alive.has(r.nodeId)).map((r) => r.bridgeId));
      if (this.#closed || (live.size === this.#live.size && [...live].every((b) => this.#live.has(b)))) return;
      this.#live = live;
      for (const listener of [...this.#listeners]) listener();
    } catch (error) {
      if (!this.#closed) this.#problem('reading the screen tracks failed', error);
    }
  }
}
