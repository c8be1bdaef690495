// Storage behind interfaces split by concern: the conference and its log, tokens, presence leases;
// memory implementations (the embedded default) and a redis one that serves all three.
export * from './errors.ts';
export * from './ConferenceStore.ts';
export * from './TokenStore.ts';
export * from './PresenceStore.ts';
export * from './Stores.ts';
export { MemoryConferenceStore } from './memory/MemoryConferenceStore.ts';
export { MemoryTokenStore } from './memory/MemoryTokenStore.ts';
export { MemoryPresenceStore } from './memory/MemoryPresenceStore.ts';
export { RedisStore, type RedisStoreOptions } from './RedisStore.ts';
export { SqliteStore, SQLITE_FILE, type SqliteStoreOptions } from './sqlite/SqliteStore.ts';
export * from './NodeRegistry.ts';
export * from './TrackRegistry.ts';
export * from './PlacementStore.ts';
export { MemoryNodeRegistry, MemoryTrackRegistry, MemoryPlacementStore } from './memory/MemoryClusterStore.ts';
