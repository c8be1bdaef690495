import { MemoryNodeRegistry, MemoryTrackRegistry } from '../../../server/store/index.ts';
import { nodeRegistryContract } from './node-registry-contract.ts';
import { trackRegistryContract } from './track-registry-contract.ts';

describe('Memory cluster stores', () => {
  describe('MemoryNodeRegistry', () => nodeRegistryContract(async () => new MemoryNodeRegistry()));
  describe('MemoryTrackRegistry', () => trackRegistryContract(async () => new MemoryTrackRegistry()));
});
