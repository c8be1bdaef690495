import { MemoryConferenceStore, MemoryPresenceStore, MemoryTokenStore } from '../../../server/store/index.ts';
import { conferenceStoreContract } from './conference-store-contract.ts';
import { presenceStoreContract } from './presence-store-contract.ts';
import { tokenStoreContract } from './token-store-contract.ts';

describe('Memory stores', () => {
  describe('MemoryConferenceStore', () => conferenceStoreContract(async () => new MemoryConferenceStore()));
  describe('MemoryTokenStore', () => tokenStoreContract(async () => new MemoryTokenStore()));
  describe('MemoryPresenceStore', () => presenceStoreContract(async () => new MemoryPresenceStore()));
});
