// Where the control plane reads each link's counters and weak links (issues 13 and 17): the media
// session of this process when it carries every hall (the `both` role alone), or what the media
// nodes publish on the conference's links channel (any deployment on redis): every 2 s their
// halls' counters, kept here as the latest per bridge; their halls without video (a node's whole
// list in every sample and at once when it changes), merged by the pure AudioOnlyBook; and who is
// heard on each (at once when it changes, and in every sample), merged by mergeLevels.
import { EventEmitter } from 'node:events';
import type { LinkCounters, MediaSession } from '../../sfu/index.ts';
import type { Clock, ClockTimer } from '../core/conference/index.ts';
import { AudioOnlyBook, mergeAudioOnly, mergeLevels, NodeBook, sameLevels, type AudioOnlyHall, type HallLevel } from '../core/weak-links.ts';
import type { LinkSampleMessage } from '../protocol/cluster.ts';
import type { LinkChannel, LinkWatch, NodeRegistry, NodeWatch } from '../store/index.ts';

/** A source of link counters: a bridge's cumulative counters now, or null when no node carries it. */
export interface LinkCounterSource {
  linkCounters(bridgeId: string): Promise<LinkCounters | null>;
}

export type HallSignalEvents = {
  /** The halls whose links carry no video changed: the whole list now. */
  audioonly: [halls: AudioOnlyHall[]];
  /** Who is heard now and how loud, loudest first (empty: silence), when it changed. */
  levels: [levels: HallLevel[]];
};

/**
 * What the media tells of the halls wherever their media is: which links carry no video (the
 * control plane tells its pages, control socket `link:audioOnly`, and the health reads it) and
 * who is heard how loud (the staff's `audio:levels`).
 */
export interface HallSignals extends EventEmitter<HallSignalEvents> {
  audioOnly(): AudioOnlyHall[];
  audioOnlyOf(bridgeId: string): AudioOnlyHall;
}

/** Options of LinkSampleFeed.start. */
export interface LinkSampleFeedOptions {
  clock: Clock;
  /** The plan's halls (a node's word about another bridge is dropped). */
  bridgeIds: readonly string[];
  /** A node's counters and list stand this long without a message (3 sampling periods: 6 s). */
  staleMs?: number;
  /**
   * The media nodes' registry, where the deployment has one: only a live node's list is taken,
   * and a node whose lease ends takes its list with it at once. Without it (processes on one
   * redis, each with its own media), a list goes when it is stale.
   */
  nodes?: NodeRegistry;
  /** Where a refused list is logged (once per node id). */
  problem?: (message: string, error: unknown) => void;
}

/** The latest link samples of every media node of a conference. */
export class LinkSampleFeed extends EventEmitter<HallSignalEvents> implements LinkCounterSource, HallSignals {
  readonly #clock: Clock;
  readonly #staleMs: number;
  readonly #latest = new Map<string, { counters: LinkCounters; nodeId: string; receivedAt: number }>();
  readonly #book: AudioOnlyBook;
  readonly #known: (bridgeId: string) => boolean;
  readonly #options: LinkSampleFeedOptions;
  /** The live nodes, where there is a registry (undefined: every node's word is taken). */
  #live: Set<string> | undefined;
  readonly #refused = new Set<string>();
  /** Each node's last levels, and their merge. */
  readonly #levels = new NodeBook<HallLevel[], HallLevel[]>(mergeLevels, sameLevels);
  #watch: LinkWatch | undefined;
  #nodeWatch: NodeWatch | undefined;
  #expiry: ClockTimer | undefined;

  private constructor(options: LinkSampleFeedOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock;
    this.#staleMs = options.staleMs ?? 6000;
    const known = new Set(options.bridgeIds);
    this.#known = (id) => known.has(id);
    this.#book = new AudioOnlyBook(this.#known);
  }

  /**
   * Listens to a conference's link samples. A bridge whose samples stop (its hall left its node,
   * or the node died) has no counters after `staleMs`; a node's audio-only list goes then too, or
   * at once when the registry says its lease ended.
   */
  static async start(channel: LinkChannel, conferenceId: string, options: LinkSampleFeedOptions): Promise<LinkSampleFeed> {
    const feed = new LinkSampleFeed(options);
    try {
      if (options.nodes) {
        const nodes = options.nodes;
        feed.#nodeWatch = await nodes.watchNodes((change) => {
          if (change.kind === 'up') feed.#live?.add(change.node.nodeId);
          else {
            feed.#live?.delete(change.nodeId);
            feed.#tell(feed.#book.drop(change.nodeId));
            feed.#tellLevels(feed.#levels.drop(change.nodeId));
          }
        });
        feed.#live = new Set((await nodes.liveNodes()).map((n) => n.nodeId));
      }
      feed.#watch = await channel.watchLinks(conferenceId, (message) => feed.#take(message));
      feed.#expiry = options.clock.setInterval(() => feed.#expire(), Math.max(100, Math.round(feed.#staleMs / 6)), { background: true });
    } catch (error) {
      await feed.close();
      throw error;
    }
    return feed;
  }

  async linkCounters(bridgeId: string): Promise<LinkCounters | null> {
    const entry = this.#latest.get(bridgeId);
    if (!entry || this.#clock.now() - entry.receivedAt > this.#staleMs) return null;
    return entry.counters;
  }

  /** The halls whose links carry no video now, on any live node. */
  audioOnly(): AudioOnlyHall[] {
    return this.#book.list();
  }

  /** One hall's state (both false: video, or nothing known). */
  audioOnlyOf(bridgeId: string): AudioOnlyHall {
    return this.#book.of(bridgeId);
  }

  /** Stops listening; idempotent. */
  async close(): Promise<void> {
    const [watch, nodeWatch] = [this.#watch, this.#nodeWatch];
    this.#watch = this.#nodeWatch = undefined;
    this.#clock.clearInterval(this.#expiry);
    this.#expiry = undefined;
    await Promise.all([watch?.close(), nodeWatch?.close()]);
    this.removeAllListeners();
  }

  #take(message: LinkSampleMessage): void {
    const now = this.#clock.now();
    for (const [bridgeId, counters] of Object.entries(message.links)) {
      const held = this.#latest.get(bridgeId);
      // A hall moving between nodes is briefly on two: the newer counters win.
      if (held && held.nodeId !== message.nodeId && now - held.receivedAt <= this.#staleMs && held.counters.at > counters.at) continue;
      this.#latest.set(bridgeId, { counters: counters as LinkCounters, nodeId: message.nodeId, receivedAt: now });
    }
    if (!message.audioOnly && !message.levels) return;
    // A list from a node the registry does not hold (forged, or a node whose lease ended) changes nothing.
    if (this.#live && !this.#live.has(message.nodeId)) {
      if (!this.#refused.has(message.nodeId)) {
        this.#refused.add(message.nodeId);
        this.#options.problem?.(`weak links or levels from a node that is not live refused: ${message.nodeId}`, undefined);
      }
      return;
    }
    if (message.audioOnly) this.#tell(this.#book.take(message.nodeId, message.audioOnly, now));
    if (message.levels) this.#tellLevels(this.#levels.take(message.nodeId, message.levels.filter((l) => this.#known(l.bridgeId)), now));
  }

  #expire(): void {
    const now = this.#clock.now();
    this.#tell(this.#book.expire(now, this.#staleMs));
    this.#tellLevels(this.#levels.expire(now, this.#staleMs));
  }

  /** Tells the merged levels when they changed. */
  #tellLevels(changed: HallLevel[] | null): void {
    if (changed && this.#watch) this.emit('levels', changed);
  }

  #tell(changed: AudioOnlyHall[] | null): void {
    if (changed && this.#watch) this.emit('audioonly', changed);
  }
}

/** The weak links and levels of this process's own media session, where it carries every hall (the embedded default). */
export class SessionSignals extends EventEmitter<HallSignalEvents> implements HallSignals {
  readonly #session: MediaSession;
  readonly #onChange = (): void => void this.emit('audioonly', this.audioOnly());
  readonly #onLevels = ({ levels }: { levels: HallLevel[] }): void => void this.emit('levels', levels);

  constructor(session: MediaSession) {
    super();
    this.#session = session;
    session.on('audioonly', this.#onChange);
    session.on('audiolevels', this.#onLevels);
  }

  audioOnly(): AudioOnlyHall[] {
    return mergeAudioOnly([this.#session.audioOnly()]);
  }

  audioOnlyOf(bridgeId: string): AudioOnlyHall {
    return this.#session.audioOnlyOf(bridgeId);
  }

  /** Stops listening; idempotent. */
  close(): void {
    this.#session.off('audioonly', this.#onChange);
    this.#session.off('audiolevels', this.#onLevels);
    this.removeAllListeners();
  }
}
