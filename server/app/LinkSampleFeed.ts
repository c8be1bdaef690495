// Where the health monitor reads each link's counters (issue 13): the media session of this
// process when it carries every hall (the `both` role alone), or the link samples that media
// nodes publish every 2 s (any deployment on redis), kept here as the latest per bridge.
import type { LinkCounters } from '../../sfu/index.ts';
import type { Clock } from '../core/conference/index.ts';
import type { LinkSampleMessage } from '../protocol/cluster.ts';
import type { LinkChannel, LinkWatch } from '../store/index.ts';

/** A source of link counters: a bridge's cumulative counters now, or null when no node carries it. */
export interface LinkCounterSource {
  linkCounters(bridgeId: string): Promise<LinkCounters | null>;
}

/** The latest link samples of every media node of a conference. */
export class LinkSampleFeed implements LinkCounterSource {
  readonly #clock: Clock;
  readonly #staleMs: number;
  readonly #latest = new Map<string, { counters: LinkCounters; nodeId: string; receivedAt: number }>();
  #watch: LinkWatch | undefined;

  private constructor(clock: Clock, staleMs: number) {
    this.#clock = clock;
    this.#staleMs = staleMs;
  }

  /**
   * Listens to a conference's link samples. A bridge whose samples stop (its hall left its node,
   * or the node died) has no counters after `staleMs` (3 sampling periods: 6 s).
   */
  static async start(channel: LinkChannel, conferenceId: string, options: { clock: Clock; staleMs?: number }): Promise<LinkSampleFeed> {
    const feed = new LinkSampleFeed(options.clock, options.staleMs ?? 6000);
    feed.#watch = await channel.watchLinks(conferenceId, (message) => feed.#take(message));
    return feed;
  }

  async linkCounters(bridgeId: string): Promise<LinkCounters | null> {
    const entry = this.#latest.get(bridgeId);
    if (!entry || this.#clock.now() - entry.receivedAt > this.#staleMs) return null;
    return entry.counters;
  }

  /** Stops listening; idempotent. */
  async close(): Promise<void> {
    const watch = this.#watch;
    this.#watch = undefined;
    await watch?.close();
  }

  #take(message: LinkSampleMessage): void {
    const now = this.#clock.now();
    for (const [bridgeId, counters] of Object.entries(message.links)) {
      const held = this.#latest.get(bridgeId);
      // A hall moving between nodes is briefly on two: the newer counters win.
      if (held && held.nodeId !== message.nodeId && now - held.receivedAt <= this.#staleMs && held.counters.at > counters.at) continue;
      this.#latest.set(bridgeId, { counters: counters as LinkCounters, nodeId: message.nodeId, receivedAt: now });
    }
  }
}
