// The behaviour every PlanStore must have (versions that count up from 1 whoever stores, every
// plan announced to every watcher, dropPlan); run against the memory and SQLite stores (unit) and a real redis-server
// (integration). `shared`: a second open() is another process on the same store.
import { expect } from 'chai';
import type { PlanAnnouncement, PlanStore, StoreResource } from '../../../server/store/index.ts';
import { freshConferenceId } from './helpers.ts';
import { rejectsWith, waitUntil } from './store-contract.ts';

const at = Date.UTC(2021, 10, 26, 1);

/** Registers the contract tests; `open` gives a store per call, closed by the contract. */
export function planStoreContract(open: () => Promise<PlanStore & StoreResource>, options: { shared: boolean } = { shared: false }): void {
  const opened: (PlanStore & StoreResource)[] = [];
  let store: PlanStore & StoreResource;
  let id: string;
  const another = async (): Promise<PlanStore & StoreResource> => {
    if (!options.shared) return store;
    const s = await open();
    opened.push(s);
    return s;
  };

  beforeEach(async () => {
    store = await open();
    opened.push(store);
    id = freshConferenceId('plan');
  });

  afterEach(async () => {
    if (!store.closed) await store.dropPlan(id);
    for (const s of opened.splice(0)) await s.close();
  });

  it('no plan until one is stored; each plan stored is the next version, its text kept as given', async () => {
    expect(await store.storedPlan(id)).to.equal(null);
    expect(await store.storePlan(id, '{"title":"một"}', at)).to.equal(1);
    const other = await another();
    expect(await other.storePlan(id, '{"title":"hai"}', at + 1)).to.equal(2);
    expect(await store.storedPlan(id)).to.deep.equal({ version: 2, text: '{"title":"hai"}', storedAt: at + 1 });
    expect(await other.storedPlan(freshConferenceId('plan-other')), 'another conference').to.equal(null);
  });

  it('every plan stored is announced to every watcher of the conference (another process\'s too); a closed watch hears nothing', async () => {
    const other = await another();
    const heard: PlanAnnouncement[] = [];
    const heardElsewhere: PlanAnnouncement[] = [];
    const watch = await store.watchPlans(id, (a) => heard.push(a));
    const elsewhere = await other.watchPlans(id, (a) => heardElsewhere.push(a));
    const unrelated: PlanAnnouncement[] = [];
    const third = await store.watchPlans(freshConferenceId('plan-unrelated'), (a) => unrelated.push(a));
    const version = await store.storePlan(id, '{}', at);
    await waitUntil(() => heard.length === 1 && heardElsewhere.length === 1);
    expect(heard).to.deep.equal([{ kind: 'stored', version }]);
    expect(heardElsewhere).to.deep.equal([{ kind: 'stored', version }]);
    await watch.close();
    await watch.close();
    await other.storePlan(id, '{}', at);
    await waitUntil(() => heardElsewhere.length === 2);
    expect(heard, 'closed watch').to.have.length(1);
    expect(unrelated).to.deep.equal([]);
    await elsewhere.close();
    await third.close();
  });

  it('a listener that throws neither undoes the store nor keeps another listener from hearing', async () => {
    const heard: PlanAnnouncement[] = [];
    const bad = await store.watchPlans(id, () => {
      throw new Error('listener failed');
    });
    const good = await store.watchPlans(id, (a) => heard.push(a));
    expect(await store.storePlan(id, '{}', at)).to.equal(1);
    await waitUntil(() => heard.length === 1);
    expect((await store.storedPlan(id))?.version).to.equal(1);
    await bad.close();
    await good.close();
  });

  it('dropPlan forgets the plan (versions start again at 1); a closed store refuses with code closed', async () => {
    await store.storePlan(id, '{}', at);
    await store.dropPlan(id);
    expect(await store.storedPlan(id)).to.equal(null);
    expect(await store.storePlan(id, '{}', at)).to.equal(1);
    await store.close();
    await rejectsWith(store.storedPlan(id), 'closed');
    await rejectsWith(store.storePlan(id, '{}', at), 'closed');
  });
}
