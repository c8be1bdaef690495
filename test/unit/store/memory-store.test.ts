import { MemoryConferenceStore, MemoryPlacementStore, MemoryPlanStore, MemoryPresenceStore, MemoryTokenStore } from '../../../server/store/index.ts';
import { conferenceStoreContract } from './conference-store-contract.ts';
import { placementStoreContract } from './placement-store-contract.ts';
import { planStoreContract } from './plan-store-contract.ts';
import { presenceStoreContract } from './presence-store-contract.ts';
import { tokenStoreContract } from './token-store-contract.ts';

describe('Memory stores', () => {
  describe('MemoryConferenceStore', () => conferenceStoreContract(async () => new MemoryConferenceStore()));
  describe('MemoryTokenStore', () => tokenStoreContract(async () => new MemoryTokenStore()));
  describe('MemoryPresenceStore', () => presenceStoreContract(async () => new MemoryPresenceStore()));
  // One process: the second writer is the same store.
  describe('MemoryPlacementStore', () => placementStoreContract(async () => new MemoryPlacementStore(), { shared: false }));
  describe('MemoryPlanStore', () => planStoreContract(async () => new MemoryPlanStore()));
});
