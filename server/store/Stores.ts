// The stores a server runs on, one per concern, as LiveKit splits its stores: the conference and
// its log (ConferenceStore), the access tokens (TokenStore), the instances' presence leases
// (PresenceStore), the peers' placement on media nodes (PlacementStore), and for media across
// hosts (issue 13) the media nodes' leases (NodeRegistry), the tracks each node publishes
// (TrackRegistry) and the link samples nodes send the control plane (LinkChannel), and the plan
// loaded by REST, which every process takes up (PlanStore). One object may
// serve several concerns (RedisStore serves the first three over one connection); the embedded
// default is a SQLite file (SqliteStore, the first three and the plan; one process is one media node, so
// the cluster concerns stay in its memory); tests may ask for a memory store of each.
import path from 'node:path';
import type { Clock } from '../core/conference/index.ts';
import type { ConferenceStore } from './ConferenceStore.ts';
import type { LinkChannel } from './LinkChannel.ts';
import type { NodeRegistry } from './NodeRegistry.ts';
import type { PlacementStore } from './PlacementStore.ts';
import type { TrackRegistry } from './TrackRegistry.ts';
import { MemoryLinkChannel, MemoryNodeRegistry, MemoryTrackRegistry } from './memory/MemoryClusterStore.ts';
import { RedisLinkChannel } from './redis/RedisLinkChannel.ts';
import { RedisNodeRegistry } from './redis/RedisNodeRegistry.ts';
import { RedisTrackRegistry } from './redis/RedisTrackRegistry.ts';
import type { PresenceStore } from './PresenceStore.ts';
import type { PlanStore } from './PlanStore.ts';
import { MemoryPlanStore } from './memory/MemoryPlanStore.ts';
import { RedisPlanStore } from './redis/RedisPlanStore.ts';
import type { TokenStore } from './TokenStore.ts';
import { MemoryConferenceStore } from './memory/MemoryConferenceStore.ts';
import { MemoryPresenceStore } from './memory/MemoryPresenceStore.ts';
import { MemoryTokenStore } from './memory/MemoryTokenStore.ts';
import { MemoryPlacementStore } from './memory/MemoryClusterStore.ts';
import { RedisStore } from './RedisStore.ts';
import { RedisPlacementStore } from './redis/RedisPlacementStore.ts';
import { SQLITE_FILE, SqliteStore } from './sqlite/SqliteStore.ts';

/** A store implementation's own life: close() releases it (idempotent); later calls fail with code 'closed'. */
export interface StoreResource {
  readonly closed: boolean;
  close(): Promise<void>;
}

/**
 * Which implementation holds the state: a SQLite file of this machine (the durable default), this
 * process's memory (tests), or a redis shared by every process.
 */
export type StoreKind = 'sqlite' | 'memory' | 'redis';

/** The stores of a server, by concern. */
export interface Stores {
  readonly kind: StoreKind;
  readonly conferences: ConferenceStore;
  readonly tokens: TokenStore;
  readonly presence: PresenceStore;
  /** The peers' placement on media nodes, per conference. */
  readonly placements: PlacementStore;
  /**
   * The media nodes' leases (deployment-wide, not per conference). Shared between processes only
   * on redis; in memory it holds this process's node alone.
   */
  readonly nodes: NodeRegistry;
  /** The tracks each media node publishes, per conference. */
  readonly tracks: TrackRegistry;
  /** The link samples media nodes send the control plane. */
  readonly links: LinkChannel;
  /** The plan loaded by REST, with its version; every process watches it. */
  readonly plans: PlanStore;
  /**
   * Deletes everything of one conference, in every store (state, log, tokens, leases, placements,
   * tracks), but its loaded plan, whose version keeps counting (PlanStore.ts). `keepTokens`: the
   * tokens stay (a plan loaded in place of another keeps links in force throughout: another process
   * that checked them in between would cut off their pages as revoked).
   */
  drop(conferenceId: string, options?: { keepTokens?: boolean }): Promise<void>;
  /** Closes every implementation once; idempotent. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/**
 * Bundles stores by concern; `resources` are the implementations behind them, each closed once.
 * The cluster concerns (nodes, tracks, links) default to this process's memory: one node.
 */
export function storesOf(
  kind: StoreKind,
  given: { conferences: ConferenceStore; tokens: TokenStore; presence: PresenceStore; placements: PlacementStore; nodes?: NodeRegistry; tracks?: TrackRegistry; links?: LinkChannel; plans?: PlanStore },
  resources: readonly StoreResource[],
): Stores {
  const made: StoreResource[] = [];
  const own = <T extends StoreResource>(r: T): T => (made.push(r), r);
  const parts = {
    ...given,
    nodes: given.nodes ?? own(new MemoryNodeRegistry()),
    tracks: given.tracks ?? own(new MemoryTrackRegistry()),
    links: given.links ?? own(new MemoryLinkChannel()),
    plans: given.plans ?? own(new MemoryPlanStore()),
  };
  const owned = [...new Set([...resources, ...made])];
  let closing: Promise<void> | undefined;
  return {
    kind,
    ...parts,
    async drop(conferenceId, options = {}) {
      await parts.conferences.drop(conferenceId);
      if (!options.keepTokens) await parts.tokens.dropTokens(conferenceId);
      await parts.presence.dropPresence(conferenceId);
      await parts.placements.dropPlacements(conferenceId);
      await parts.tracks.dropTracks(conferenceId);
    },
    close() {
      closing ??= Promise.all(owned.map((r) => r.close())).then(() => undefined);
      return closing;
    },
    get closed() {
      return closing !== undefined;
    },
  };
}

/** Options of createStores. */
export interface CreateStoresOptions {
  /** redis://…: every concern in that redis (REDIS_URL); otherwise `kind` on this machine. */
  redisUrl?: string | undefined;
  /** Without redis: a SQLite file in `dataDir` (the default), or memory (tests). */
  kind?: 'sqlite' | 'memory';
  /** Where the SQLite file lives (DIEMCAU_DATA_DIR; 'data' by default). */
  dataDir?: string;
  /** Connection errors of redis (it reconnects by itself). */
  onError?: (error: Error) => void;
  /** Time of the memory leases (presence, media nodes). */
  clock?: Clock;
}

/** The redis store for every concern when a URL is given, else the SQLite file (or memory, when asked). */
export async function createStores(options: CreateStoresOptions = {}): Promise<Stores> {
  if (options.redisUrl) {
    const redisOptions = { url: options.redisUrl, ...(options.onError ? { onError: options.onError } : {}) };
    const opened: StoreResource[] = [];
    try {
      const redis = await RedisStore.create(redisOptions);
      opened.push(redis);
      const placements = await RedisPlacementStore.create(redisOptions);
      opened.push(placements);
      const nodes = await RedisNodeRegistry.create(redisOptions);
      opened.push(nodes);
      const tracks = await RedisTrackRegistry.create(redisOptions);
      opened.push(tracks);
      const links = await RedisLinkChannel.create(redisOptions);
      opened.push(links);
      const plans = await RedisPlanStore.create(redisOptions);
      opened.push(plans);
      return storesOf('redis', { conferences: redis, tokens: redis, presence: redis, placements, nodes, tracks, links, plans }, opened);
    } catch (error) {
      await Promise.all(opened.map((r) => r.close()));
      throw error;
    }
  }
  if ((options.kind ?? 'sqlite') === 'sqlite') {
    const file = path.join(options.dataDir ?? 'data', SQLITE_FILE);
    const sqlite = SqliteStore.open({ file, ...(options.clock ? { clock: options.clock } : {}) });
    const placements = new MemoryPlacementStore();
    const nodes = new MemoryNodeRegistry(options.clock);
    return storesOf('sqlite', { conferences: sqlite, tokens: sqlite, presence: sqlite, placements, nodes, plans: sqlite }, [sqlite, placements, nodes]);
  }
  const conferences = new MemoryConferenceStore();
  const tokens = new MemoryTokenStore(options.clock ? () => options.clock!.now() : undefined);
  const presence = new MemoryPresenceStore(options.clock);
  const placements = new MemoryPlacementStore();
  const nodes = new MemoryNodeRegistry(options.clock);
  const tracks = new MemoryTrackRegistry();
  const links = new MemoryLinkChannel();
  const plans = new MemoryPlanStore();
  return storesOf('memory', { conferences, tokens, presence, placements, nodes, tracks, links, plans }, [conferences, tokens, presence, placements, nodes, tracks, links, plans]);
}
