// The behaviour every PresenceStore must have (leases that expire on their own); run against the
// memory store (unit) and a real redis-server (integration).
import { expect } from 'chai';
import type { PresenceStore, StoreResource } from '../../../server/store/index.ts';
import { freshConferenceId } from './helpers.ts';
import { rejectsWith } from './store-contract.ts';

/** Registers the contract tests; `open` gives a store per test, which the contract closes. */
export function presenceStoreContract(open: () => Promise<PresenceStore & StoreResource>): void {
  let store: PresenceStore & StoreResource;
  let id: string;

  beforeEach(async () => {
    store = await open();
    id = freshConferenceId('contract');
  });

  afterEach(async () => {
    if (!store.closed) await store.dropPresence(id);
    await store.close();
  });

  it('presence leases: other live instances\' bridges are seen, an expired lease is not', async () => {
    await store.setPresence(id, 'a', ['c-05971', 'd-178'], 10_000);
    await store.setPresence(id, 'b', ['c-06010'], 60);
    expect([...(await store.presentElsewhere(id, 'c'))].sort()).to.deep.equal(['c-05971', 'c-06010', 'd-178']);
    expect([...(await store.presentElsewhere(id, 'a'))]).to.deep.equal(['c-06010']);
    await new Promise((r) => setTimeout(r, 120));
    expect([...(await store.presentElsewhere(id, 'a'))]).to.deep.equal([]);
    await store.setPresence(id, 'a', [], 10_000);
    expect([...(await store.presentElsewhere(id, 'b'))]).to.deep.equal([]);
  });

  it('dropPresence forgets every lease; close is idempotent and later calls fail with code closed', async () => {
    await store.setPresence(id, 'a', ['c-05971'], 10_000);
    await store.dropPresence(id);
    expect([...(await store.presentElsewhere(id, 'b'))]).to.deep.equal([]);
    await store.close();
    await store.close();
    expect(store.closed).to.equal(true);
    await rejectsWith(store.setPresence(id, 'a', [], 10_000), 'closed');
  });

  it('refuses conference ids that do not fit in a key', async () => {
    await rejectsWith(store.setPresence('a:b', 'a', [], 1000), 'invalid_argument');
    await rejectsWith(store.presentElsewhere('', 'a'), 'invalid_argument');
  });
}
