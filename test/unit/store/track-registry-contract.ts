// The behaviour every TrackRegistry must have (the tracks each media node publishes, issue 13);
// run against the memory registry (unit) and a real redis-server (integration).
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { TrackRecord } from '../../../server/protocol/cluster.ts';
import type { StoreResource, TrackRegistry } from '../../../server/store/index.ts';
import { freshConferenceId } from './helpers.ts';
import { rejectsWith, waitUntil } from './store-contract.ts';

function track(bridgeId: string, source: 'mic' | 'cam', nodeId: string, epoch: number): TrackRecord {
  return { bridgeId, source, kind: source === 'mic' ? 'audio' : 'video', nodeId, producerId: randomUUID(), epoch };
}

/** Registers the contract tests; `open` gives a registry per test, which the contract closes. */
export function trackRegistryContract(open: () => Promise<TrackRegistry & StoreResource>): void {
  let registry: TrackRegistry & StoreResource;
  let id: string;

  beforeEach(async () => {
    registry = await open();
    id = freshConferenceId('tracks');
  });

  afterEach(async () => {
    if (!registry.closed) await registry.dropTracks(id);
    await registry.close();
  });

  const listed = async (): Promise<string[]> => (await registry.tracks(id)).map((t) => `${t.bridgeId}:${t.source}@${t.nodeId}#${t.epoch}`).sort();

  it('a publication is listed; a newer epoch replaces it, an older one does not', async () => {
    expect(await registry.tracks(id)).to.deep.equal([]);
    const mic = track('c-05971', 'mic', 'n1', 10);
    await registry.publishTrack(id, mic);
    await registry.publishTrack(id, track('c-05971', 'cam', 'n1', 10));
    expect(await registry.tracks(id)).to.deep.include(mic);
    await registry.publishTrack(id, track('c-05971', 'mic', 'n2', 20));
    await registry.publishTrack(id, track('c-05971', 'mic', 'n3', 15));
    expect(await listed()).to.deep.equal(['c-05971:cam@n1#10', 'c-05971:mic@n2#20']);
  });

  it('unpublish removes only its own producer; dropNodeTracks removes a node\'s tracks; every change is announced', async () => {
    let heard = 0;
    const watch = await registry.watchTracks(id, () => heard++);
    const old = track('d-178', 'cam', 'n1', 10);
    const now = track('d-178', 'cam', 'n2', 11);
    await registry.publishTrack(id, old);
    await registry.publishTrack(id, now);
    await registry.publishTrack(id, track('p-20', 'mic', 'n2', 12));
    await registry.publishTrack(id, track('c-06010', 'mic', 'n3', 12));
    await waitUntil(() => heard >= 4, 3000);
    await registry.unpublishTrack(id, 'd-178', 'cam', old.producerId);
    expect(await listed()).to.deep.equal(['c-06010:mic@n3#12', 'd-178:cam@n2#11', 'p-20:mic@n2#12']);
    await registry.unpublishTrack(id, 'd-178', 'cam', now.producerId);
    await waitUntil(() => heard >= 5, 3000);
    await registry.dropNodeTracks(id, 'n2');
    await waitUntil(() => heard >= 6, 3000);
    expect(await listed()).to.deep.equal(['c-06010:mic@n3#12']);
    await watch.close();
    const before = heard;
    await registry.dropTracks(id);
    expect(await registry.tracks(id)).to.deep.equal([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(heard, 'a closed watch hears nothing').to.equal(before);
  });

  it('close is idempotent and later calls fail with code closed', async () => {
    await registry.close();
    await registry.close();
    expect(registry.closed).to.equal(true);
    await rejectsWith(registry.tracks(id), 'closed');
  });
}
