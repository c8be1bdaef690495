// The behaviour every PlacementStore must have (compare-and-set on the epoch, every write
// announced to every watcher, drain marks); run against the memory store (unit) and a real
// redis-server (integration).
import { expect } from 'chai';
import type { PlacementRecord } from '../../../server/protocol/cluster.ts';
import type { PlacementStore, StoreResource } from '../../../server/store/index.ts';
import { freshConferenceId } from './helpers.ts';
import { rejectsWith, waitUntil } from './store-contract.ts';

const at = Date.UTC(2021, 10, 26, 1);

/** Registers the contract tests; `open` gives a store per call (two calls: two processes on one store), closed by the contract. */
export function placementStoreContract(open: () => Promise<PlacementStore & StoreResource>, options: { shared: boolean } = { shared: true }): void {
  const opened: (PlacementStore & StoreResource)[] = [];
  let store: PlacementStore & StoreResource;
  let id: string;
  const another = async (): Promise<PlacementStore & StoreResource> => {
    const s = options.shared ? await open() : store;
    if (s !== store) opened.push(s);
    return s;
  };

  beforeEach(async () => {
    store = await open();
    opened.push(store);
    id = freshConferenceId('placement');
  });

  afterEach(async () => {
    if (!store.closed) await store.dropPlacements(id);
    for (const s of opened.splice(0)) await s.close();
  });

  it('places a peer at epoch 1, moves it only from the epoch it was read at, and lists every placement', async () => {
    const first = await store.place(id, { peerKey: 'd-178', nodeId: 'node-a', at, reason: 'placed' }, 0);
    expect(first).to.deep.equal({ peerKey: 'd-178', nodeId: 'node-a', at, reason: 'placed', epoch: 1 });
    expect(await store.place(id, { peerKey: 'd-178', nodeId: 'node-b', at, reason: 'placed' }, 0), 'placed already').to.equal(null);
    const moved = await store.place(id, { peerKey: 'd-178', nodeId: 'node-b', at: at + 1, reason: 'node_lost' }, 1);
    expect(moved?.epoch).to.equal(2);
    expect(await store.place(id, { peerKey: 'd-178', nodeId: 'node-c', at, reason: 'node_lost' }, 1), 'stale epoch').to.equal(null);
    await store.place(id, { peerKey: 'chair', nodeId: 'node-a', at, reason: 'placed' }, 0);
    const all = await store.placements(id);
    expect([...all.keys()].sort()).to.deep.equal(['chair', 'd-178']);
    expect(all.get('d-178')).to.deep.equal({ peerKey: 'd-178', nodeId: 'node-b', at: at + 1, reason: 'node_lost', epoch: 2 });
  });

  it('two writers at the same epoch (two control instances reacting to one dead node): exactly one wins', async () => {
    const other = await another();
    await store.place(id, { peerKey: 'c-05971', nodeId: 'node-a', at, reason: 'placed' }, 0);
    const results = await Promise.all([
      store.place(id, { peerKey: 'c-05971', nodeId: 'node-b', at, reason: 'node_lost' }, 1),
      other.place(id, { peerKey: 'c-05971', nodeId: 'node-c', at, reason: 'node_lost' }, 1),
    ]);
    const winners = results.filter((r): r is PlacementRecord => r !== null);
    expect(winners).to.have.length(1);
    expect((await other.placements(id)).get('c-05971')).to.deep.equal(winners[0]);
  });

  it('placeAll: a group at once, all or nothing (one stale epoch and nothing is written or announced)', async () => {
    const heard: PlacementRecord[] = [];
    const watch = await store.watchPlacements(id, (r) => heard.push(r));
    const group = ['d-178', 'c-05971', 'c-05974'].map((peerKey) => ({ record: { peerKey, nodeId: 'node-a', at, reason: 'placed' as const }, expectedEpoch: 0 }));
    const stored = await store.placeAll(id, group);
    expect(stored?.map((r) => [r.peerKey, r.epoch])).to.deep.equal([
      ['d-178', 1],
      ['c-05971', 1],
      ['c-05974', 1],
    ]);
    const other = await another();
    // Another instance, with an older picture (c-05974 unplaced), tries to move the group: refused as a whole.
    const stale = [
      { record: { peerKey: 'd-178', nodeId: 'node-b', at, reason: 'node_lost' as const }, expectedEpoch: 1 },
      { record: { peerKey: 'c-05974', nodeId: 'node-b', at, reason: 'node_lost' as const }, expectedEpoch: 0 },
    ];
    expect(await other.placeAll(id, stale)).to.equal(null);
    const all = await other.placements(id);
    expect([...all.values()].every((r) => r.nodeId === 'node-a' && r.epoch === 1)).to.equal(true);
    await waitUntil(() => heard.length === 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(heard.map((r) => r.peerKey)).to.deep.equal(['d-178', 'c-05971', 'c-05974']);
    await rejectsWith(store.placeAll(id, []), 'invalid_argument');
    await rejectsWith(store.placeAll(id, [group[0]!, group[0]!]), 'invalid_argument');
    await watch.close();
  });

  it('every write reaches every watcher, on every store of the deployment; a closed watch hears nothing more', async () => {
    const other = await another();
    const heard: PlacementRecord[] = [];
    const heardElsewhere: PlacementRecord[] = [];
    const watch = await store.watchPlacements(id, (r) => heard.push(r));
    const watchElsewhere = await other.watchPlacements(id, (r) => heardElsewhere.push(r));
    await store.place(id, { peerKey: 'd-178', nodeId: 'node-a', at, reason: 'placed' }, 0);
    await other.place(id, { peerKey: 'd-178', nodeId: 'node-b', at, reason: 'drained' }, 1);
    await store.place(id, { peerKey: 'd-178', nodeId: 'node-c', at, reason: 'drained' }, 1); // refused: not announced
    await waitUntil(() => heard.length === 2 && heardElsewhere.length === 2);
    expect(heard.map((r) => [r.nodeId, r.epoch])).to.deep.equal([
      ['node-a', 1],
      ['node-b', 2],
    ]);
    expect(heardElsewhere).to.deep.equal(heard);
    await watch.close();
    await watch.close();
    await other.place(id, { peerKey: 'chair', nodeId: 'node-b', at, reason: 'placed' }, 0);
    await waitUntil(() => heardElsewhere.length === 3);
    expect(heard).to.have.length(2);
    await watchElsewhere.close();
  });

  it('drain marks: set, listed, cleared; dropPlacements forgets placements and marks', async () => {
    await store.setDraining(id, 'node-a', true);
    await store.setDraining(id, 'node-b', true);
    await store.setDraining(id, 'node-b', false);
    expect([...(await store.drainingNodes(id))]).to.deep.equal(['node-a']);
    await store.place(id, { peerKey: 'd-178', nodeId: 'node-a', at, reason: 'placed' }, 0);
    await store.dropPlacements(id);
    expect((await store.placements(id)).size).to.equal(0);
    expect((await store.drainingNodes(id)).size).to.equal(0);
  });

  it('bad input changes nothing: a bad node id, peer key, reason or epoch is refused with invalid_argument', async () => {
    await rejectsWith(store.place(id, { peerKey: 'd-178', nodeId: 'bad node', at, reason: 'placed' }, 0), 'invalid_argument');
    await rejectsWith(store.place(id, { peerKey: 'x'.repeat(65), nodeId: 'node-a', at, reason: 'placed' }, 0), 'invalid_argument');
    await rejectsWith(store.place(id, { peerKey: 'd-178', nodeId: 'node-a', at, reason: 'whim' as 'placed' }, 0), 'invalid_argument');
    await rejectsWith(store.place(id, { peerKey: 'd-178', nodeId: 'node-a', at, reason: 'placed' }, -1), 'invalid_argument');
    await rejectsWith(store.setDraining(id, '../etc', true), 'invalid_argument');
    await rejectsWith(store.placements('a:b'), 'invalid_argument');
    expect((await store.placements(id)).size).to.equal(0);
    expect((await store.drainingNodes(id)).size).to.equal(0);
  });

  it('close is idempotent and later calls fail with code closed', async () => {
    await store.close();
    await store.close();
    expect(store.closed).to.equal(true);
    await rejectsWith(store.placements(id), 'closed');
    await rejectsWith(store.place(id, { peerKey: 'd-178', nodeId: 'node-a', at, reason: 'placed' }, 0), 'closed');
  });
}
