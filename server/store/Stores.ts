// The stores a server runs on, one per concern, as LiveKit splits its stores: the conference and
// its log (ConferenceStore), the access tokens (TokenStore), the instances' presence leases
// (PresenceStore), the peers' placement on media nodes (PlacementStore). One object may serve
// several concerns (RedisStore serves the first three over one connection); the embedded default
// has a memory store for each. A durable embedded store is one more field here and one more
// contract test; so is the shared registry of media nodes (`nodes`).
import type { Clock } from '../core/conference/index.ts';
import type { ConferenceStore } from './ConferenceStore.ts';
import type { NodeRegistry } from './NodeRegistry.ts';
import type { PlacementStore } from './PlacementStore.ts';
import type { PresenceStore } from './PresenceStore.ts';
import type { TokenStore } from './TokenStore.ts';
import { MemoryConferenceStore } from './memory/MemoryConferenceStore.ts';
import { MemoryPresenceStore } from './memory/MemoryPresenceStore.ts';
import { MemoryTokenStore } from './memory/MemoryTokenStore.ts';
import { MemoryPlacementStore } from './memory/MemoryClusterStore.ts';
import { RedisStore } from './RedisStore.ts';
import { RedisPlacementStore } from './redis/RedisPlacementStore.ts';

/** A store implementation's own life: close() releases it (idempotent); later calls fail with code 'closed'. */
export interface StoreResource {
  readonly closed: boolean;
  close(): Promise<void>;
}

/** Which implementation holds the state: this process's memory, or a redis shared by every process. */
export type StoreKind = 'memory' | 'redis';

/** The stores of a server, by concern. */
export interface Stores {
  readonly kind: StoreKind;
  readonly conferences: ConferenceStore;
  readonly tokens: TokenStore;
  readonly presence: PresenceStore;
  readonly placements: PlacementStore;
  /**
   * The registry of media nodes every process of the deployment shares, when there is one (the
   * media side's redis registry): placement then spreads the peers over its live nodes. Absent:
   * this process's own media is the only node (the embedded default).
   */
  readonly nodes?: NodeRegistry;
  /** Deletes everything of one conference, in every store (state, log, tokens, leases, placements). */
  drop(conferenceId: string): Promise<void>;
  /** Closes every implementation once; idempotent. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/** Bundles stores by concern; `resources` are the implementations behind them, each closed once. */
export function storesOf(
  kind: StoreKind,
  parts: { conferences: ConferenceStore; tokens: TokenStore; presence: PresenceStore; placements: PlacementStore; nodes?: NodeRegistry },
  resources: readonly StoreResource[],
): Stores {
  const owned = [...new Set(resources)];
  let closing: Promise<void> | undefined;
  return {
    kind,
    ...parts,
    async drop(conferenceId) {
      await parts.conferences.drop(conferenceId);
      await parts.tokens.dropTokens(conferenceId);
      await parts.presence.dropPresence(conferenceId);
      await parts.placements.dropPlacements(conferenceId);
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
  /** redis://…: every concern in that redis (REDIS_URL); otherwise in this process's memory. */
  redisUrl?: string | undefined;
  /** Connection errors of redis (it reconnects by itself). */
  onError?: (error: Error) => void;
  /** Time of the memory presence leases. */
  clock?: Clock;
}

/** The redis store for every concern when a URL is given, else a memory store for each. */
export async function createStores(options: CreateStoresOptions = {}): Promise<Stores> {
  if (options.redisUrl) {
    const onError = options.onError ? { onError: options.onError } : {};
    const redis = await RedisStore.create({ url: options.redisUrl, ...onError });
    const placements = await RedisPlacementStore.create({ url: options.redisUrl, ...onError }).catch(async (error: unknown) => {
      await redis.close();
      throw error;
    });
    return storesOf('redis', { conferences: redis, tokens: redis, presence: redis, placements }, [redis, placements]);
  }
  const conferences = new MemoryConferenceStore();
  const tokens = new MemoryTokenStore();
  const presence = new MemoryPresenceStore(options.clock);
  const placements = new MemoryPlacementStore();
  return storesOf('memory', { conferences, tokens, presence, placements }, [conferences, tokens, presence, placements]);
}
