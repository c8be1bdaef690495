// The behaviour every PresenceStore must have (leases that expire on their own); run against the
// memory store (unit) and a real redis-server (integration).
import { expect } from 'chai';
import type { PresenceStore, StoreResource } from '../../../server/store/index.ts';
import { freshConferenceId } from './helpers.ts';
import { rejectsWith } from './store-contract.ts';

/**
 * Registers the contract tests; `open` gives a store per test, which the contract closes. With
 * `shared` (a server such as redis behind every store `open` gives), a second store stands for
 * another instance's connection; otherwise the other instance uses the same store object.
 */
export function presenceStoreContract(open: () => Promise<PresenceStore & StoreResource>, shared = false): void {
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

  it('an instance renewing its lease while another finds it expired is never forgotten (300 tries)', async function () {
    this.timeout(20_000);
    const other = shared ? await open() : store;
    const forgotten: number[] = [];
    try {
      for (let i = 0; i < 300; i++) {
        await store.setPresence(id, 'b', ['c-06010'], 1);
        await new Promise((r) => setTimeout(r, 2));
        // One instance sweeps (finds b's lease expired) while b renews from its own connection.
        const sweep = store.presentElsewhere(id, 'a');
        await new Promise((r) => (i % 3 === 0 ? setImmediate(r) : i % 3 === 1 ? queueMicrotask(() => r(null)) : setTimeout(r, 0)));
        await Promise.all([sweep, other.setPresence(id, 'b', ['c-06010'], 10_000)]);
        if (!(await store.presentElsewhere(id, 'a')).has('c-06010')) forgotten.push(i);
      }
    } finally {
      if (other !== store) await other.close();
    }
    expect(forgotten, 'tries after which the renewed lease of b was not seen').to.deep.equal([]);
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
