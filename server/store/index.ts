// Storage of conferences: one interface, a memory store (embedded default) and a redis store.
export * from './ConferenceStore.ts';
export { MemoryStore } from './MemoryStore.ts';
export { RedisStore, type RedisStoreOptions } from './RedisStore.ts';

import type { ConferenceStore } from './ConferenceStore.ts';
import { MemoryStore } from './MemoryStore.ts';
import { RedisStore } from './RedisStore.ts';

/** The redis store when a URL is given (REDIS_URL), else the memory store. */
export async function createStore(options: { redisUrl?: string | undefined; onError?: (error: Error) => void } = {}): Promise<ConferenceStore> {
  if (options.redisUrl) return RedisStore.create({ url: options.redisUrl, ...(options.onError ? { onError: options.onError } : {}) });
  return new MemoryStore();
}
