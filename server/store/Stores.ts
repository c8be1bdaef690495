// The stores a server runs on, one per concern, as LiveKit splits its stores: the conference and
// its log (ConferenceStore), the access tokens (TokenStore), the instances' presence leases
// (PresenceStore). One object may serve several concerns (RedisStore serves all three over one
// connection); the embedded default is a SQLite file (SqliteStore, all three too); tests may ask
// for a memory store of each. A registry of media nodes is one more field here and one more contract test.
import path from 'node:path';
import type { Clock } from '../core/conference/index.ts';
import type { ConferenceStore } from './ConferenceStore.ts';
import type { PresenceStore } from './PresenceStore.ts';
import type { TokenStore } from './TokenStore.ts';
import { MemoryConferenceStore } from './memory/MemoryConferenceStore.ts';
import { MemoryPresenceStore } from './memory/MemoryPresenceStore.ts';
import { MemoryTokenStore } from './memory/MemoryTokenStore.ts';
import { RedisStore } from './RedisStore.ts';
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
  /** Deletes everything of one conference, in every store (state, log, tokens, leases). */
  drop(conferenceId: string): Promise<void>;
  /** Closes every implementation once; idempotent. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/** Bundles stores by concern; `resources` are the implementations behind them, each closed once. */
export function storesOf(
  kind: StoreKind,
  parts: { conferences: ConferenceStore; tokens: TokenStore; presence: PresenceStore },
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
  /** Time of the memory presence leases. */
  clock?: Clock;
}

/** The redis store for every concern when a URL is given, else the SQLite file (or memory, when asked). */
export async function createStores(options: CreateStoresOptions = {}): Promise<Stores> {
  if (options.redisUrl) {
    const redis = await RedisStore.create({ url: options.redisUrl, ...(options.onError ? { onError: options.onError } : {}) });
    return storesOf('redis', { conferences: redis, tokens: redis, presence: redis }, [redis]);
  }
  if ((options.kind ?? 'sqlite') === 'sqlite') {
    const file = path.join(options.dataDir ?? 'data', SQLITE_FILE);
    const sqlite = SqliteStore.open({ file, ...(options.clock ? { clock: options.clock } : {}) });
    return storesOf('sqlite', { conferences: sqlite, tokens: sqlite, presence: sqlite }, [sqlite]);
  }
  const conferences = new MemoryConferenceStore();
  const tokens = new MemoryTokenStore(options.clock ? () => options.clock!.now() : undefined);
  const presence = new MemoryPresenceStore(options.clock);
  return storesOf('memory', { conferences, tokens, presence }, [conferences, tokens, presence]);
}
