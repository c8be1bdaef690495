import { MemoryStore } from '../../../server/store/index.ts';
import { storeContract } from './store-contract.ts';

describe('MemoryStore', () => {
  storeContract(async () => new MemoryStore());
});
