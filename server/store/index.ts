// Storage behind interfaces split by concern: the conference and its log, tokens, presence leases;
// memory implementations (the embedded default) and redis ones; the media nodes' registry, their
// published tracks, their link samples and the peers' placement on them (issue 13); the plan loaded by REST.
export * from './errors.ts';
export * from './ConferenceStore.ts';
export * from './TokenStore.ts';
export * from './PresenceStore.ts';
export * from './Stores.ts';
export { MemoryConferenceStore } from './memory/MemoryConferenceStore.ts';
export { MemoryTokenStore } from './memory/MemoryTokenStore.ts';
export { MemoryPresenceStore } from './memory/MemoryPresenceStore.ts';
export { RedisStore, type RedisStoreOptions } from './RedisStore.ts';
export { RedisPlacementStore, type RedisPlacementStoreOptions } from './redis/RedisPlacementStore.ts';
export { SqliteStore, SQLITE_FILE, type SqliteStoreOptions } from './sqlite/SqliteStore.ts';
export * from './NodeRegistry.ts';
export * from './TrackRegistry.ts';
export * from './PlacementStore.ts';
export * from './LinkChannel.ts';
export { MemoryNodeRegistry, MemoryTrackRegistry, MemoryPlacementStore, MemoryLinkChannel } from './memory/MemoryClusterStore.ts';
export { RedisNodeRegistry, NODE_POLL_MS } from './redis/RedisNodeRegistry.ts';
export { RedisTrackRegistry } from './redis/RedisTrackRegistry.ts';
export { RedisLinkChannel } from './redis/RedisLinkChannel.ts';
export * from './PlanStore.ts';
export { MemoryPlanStore } from './memory/MemoryPlanStore.ts';
export { RedisPlanStore, type RedisPlanStoreOptions } from './redis/RedisPlanStore.ts';
