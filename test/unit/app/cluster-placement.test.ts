// ClusterPlacement on a fake clock with the memory registry and placement store (one process;
// node records written through the NodeRegistry interface stand in for media nodes): placing on
// demand, moving every peer off a node whose lease ended exactly once with two instances
// reacting, draining one connected peer at a time, and the drain command's refusals.
import { expect } from 'chai';
import { defaultPlan } from '../../../config/default-plan.ts';
import { ClusterPlacement, DRAIN_STEP_MS, PLACEMENT_TICK_MS } from '../../../server/app/placement/ClusterPlacement.ts';
import type { MediaWhere } from '../../../server/app/placement/MediaPlacement.ts';
import { NODE_LEASE_MS } from '../../../server/app/media-node/NodeLease.ts';
import { FakeClock } from '../../../server/core/conference/index.ts';
import type { MediaNodeRecord, PlacementRecord } from '../../../server/protocol/cluster.ts';
import { MemoryNodeRegistry, MemoryPlacementStore } from '../../../server/store/index.ts';
import { nodeRecord } from '../store/helpers.ts';

const CONF = 'langson-2021';
const LEASE_MS = NODE_LEASE_MS;
const plan = defaultPlan();
const DISTRICT = 'd-178';
const COMMUNES = plan.bridges.filter((b) => b.parentId === DISTRICT).map((b) => b.id);

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe('ClusterPlacement (fake clock, memory registry and store standing in for redis and media nodes)', () => {
  let clock: FakeClock;
  let registry: MemoryNodeRegistry;
  let store: MemoryPlacementStore;
  let writes: PlacementRecord[];
  let problems: string[];
  const started: ClusterPlacement[] = [];
  let online: Set<string>;

  const record = (nodeId: string, o: Partial<MediaNodeRecord> = {}): MediaNodeRecord => nodeRecord(nodeId, clock.now(), o);
  /** Announces nodes again (a live node renews its lease every second). */
  const renew = async (...records: MediaNodeRecord[]): Promise<void> => {
    for (const r of records) await registry.announce({ ...r, renewedAt: clock.now() }, LEASE_MS);
  };
  const startPlacement = async (): Promise<ClusterPlacement> => {
    const p = await ClusterPlacement.start({ conferenceId: CONF, plan, nodes: registry, store, clock, online: (k) => online.has(k), problem: (m) => problems.push(m) });
    started.push(p);
    return p;
  };
  /** Moves the clock in ticks, renewing the given nodes' leases as they would. */
  const run = async (ms: number, alive: MediaNodeRecord[] = []): Promise<void> => {
    for (let t = 0; t < ms; t += PLACEMENT_TICK_MS) {
      await renew(...alive);
      clock.increment(PLACEMENT_TICK_MS);
      await flush();
    }
  };

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2021, 10, 26, 1));
    registry = new MemoryNodeRegistry(clock);
    store = new MemoryPlacementStore();
    writes = [];
    problems = [];
    online = new Set();
    const placeAll = store.placeAll.bind(store);
    store.placeAll = async (...args) => {
      const stored = await placeAll(...args);
      if (stored) writes.push(...stored);
      return stored;
    };
  });

  afterEach(async () => {
    for (const p of started.splice(0)) await p.close();
    await registry.close();
    await store.close();
    expect(problems).to.deep.equal([]);
  });

  it('places a page on demand by the rules, with its whole district, once; the other instance hears it; the media URL is the node\'s', async () => {
    const a = record('node-a');
    const b = record('node-b', { load: { peers: 0, consumers: 0, cpu: 0.5 } });
    await renew(a, b);
    const one = await startPlacement();
    const two = await startPlacement();
    const heard: MediaWhere[] = [];
    two.on('moved', (w) => heard.push(w));
    const where = await one.where(COMMUNES[2]!);
    expect(where).to.deep.equal({ peerKey: COMMUNES[2], nodeId: 'node-a', mediaUrl: 'https://node-a.example:4443', epoch: 1, reason: 'placed' });
    expect(await two.where(COMMUNES[2]!)).to.deep.equal(where);
    expect(await two.where(DISTRICT), 'its district with it, placed at the same time').to.include({ nodeId: 'node-a', epoch: 1 });
    await flush();
    expect(heard.map((w) => w.peerKey).sort(), 'the whole group, once').to.deep.equal([DISTRICT, ...COMMUNES].sort());
    expect(writes).to.have.length(1 + COMMUNES.length);
    expect(one.nodes().map((n) => [n.nodeId, n.alive, n.placed])).to.deep.equal([
      ['node-a', true, 1 + COMMUNES.length],
      ['node-b', true, 0],
    ]);
    // The province hall's group (with the consoles) goes to the other node: less used.
    expect(await two.where('chair')).to.include({ nodeId: 'node-b' });
    expect(one.nodeOf('p-20')).to.equal('node-b');
  });

  it('a node\'s lease ends: two instances react, every peer of it is placed on the survivor exactly once, and the pages are told', async () => {
    const a = record('node-a');
    const b = record('node-b');
    await renew(a, b);
    const one = await startPlacement();
    const two = await startPlacement();
    for (const k of [DISTRICT, 'chair']) await one.where(k);
    const peers = [...plan.bridges.map((b) => b.id), 'chair', 'secretary', 'technician', 'viewer'].filter((k) => one.nodeOf(k));
    const onA = peers.filter((k) => one.nodeOf(k) === 'node-a');
    expect(onA.length, 'both nodes got peers').to.be.within(1, peers.length - 1);
    const told: MediaWhere[][] = [[], []];
    one.on('moved', (w) => told[0]!.push(w));
    two.on('moved', (w) => told[1]!.push(w));
    writes = [];
    // node-a stops renewing (SIGKILL): its lease ends after LEASE_MS, noticed within a tick.
    await run(LEASE_MS + 2 * PLACEMENT_TICK_MS, [b]);
    expect(writes.map((w) => w.peerKey).sort(), 'each peer of node-a written once').to.deep.equal([...onA].sort());
    expect(writes.every((w) => w.nodeId === 'node-b' && w.reason === 'node_lost')).to.equal(true);
    for (const t of told) expect(t.map((w) => w.peerKey).sort(), 'each instance tells its pages').to.deep.equal([...onA].sort());
    expect(peers.every((k) => two.nodeOf(k) === 'node-b')).to.equal(true);
    expect(one.nodes().map((n) => [n.nodeId, n.alive, n.placed])).to.deep.equal([['node-b', true, peers.length]]);
    // Nothing moves again.
    writes = [];
    await run(5 * PLACEMENT_TICK_MS, [b]);
    expect(writes).to.deep.equal([]);
  });

  it('a page that asks after its node died (before the instances noticed) is moved at once', async () => {
    const a = record('node-a');
    const b = record('node-b', { load: { peers: 0, consumers: 0, cpu: 1 } });
    await renew(a, b);
    const one = await startPlacement();
    expect((await one.where(DISTRICT))?.nodeId).to.equal('node-a');
    await registry.withdraw('node-a');
    expect(await one.where(DISTRICT)).to.include({ nodeId: 'node-b', reason: 'node_lost', epoch: 2 });
  });

  it('no node at all: nowhere (null), and placed as soon as one comes', async () => {
    const one = await startPlacement();
    expect(await one.where(DISTRICT)).to.equal(null);
    await renew(record('node-a'));
    await flush();
    expect(await one.where(DISTRICT)).to.include({ nodeId: 'node-a' });
  });

  it('drain: unconnected peers leave at once, connected ones one at a time, 2 s apart, even with two instances', async () => {
    const a = record('node-a');
    const b = record('node-b');
    await renew(a);
    const one = await startPlacement();
    const two = await startPlacement();
    const peers = [DISTRICT, ...COMMUNES];
    await one.where(DISTRICT);
    expect(peers.every((k) => one.nodeOf(k) === 'node-a')).to.equal(true);
    await renew(b);
    online = new Set(peers.slice(0, 4));
    writes = [];
    await two.setDraining('node-a', true);
    await flush();
    const offline = peers.slice(4);
    expect(writes.filter((w) => !online.has(w.peerKey)).map((w) => w.peerKey).sort(), 'unconnected at once').to.deep.equal([...offline].sort());
    expect(writes.filter((w) => online.has(w.peerKey)), 'and the first connected one').to.have.length(1);
    const moves: { peerKey: string; at: number }[] = [];
    for (let i = 0; i < 4 * (DRAIN_STEP_MS / PLACEMENT_TICK_MS) + 4; i++) {
      await renew(a, b);
      clock.increment(PLACEMENT_TICK_MS);
      await flush();
    }
    for (const w of writes.filter((w) => online.has(w.peerKey))) moves.push({ peerKey: w.peerKey, at: w.at });
    expect(moves.map((m) => m.peerKey).sort(), 'every connected peer left').to.deep.equal([...online].sort());
    for (let i = 1; i < moves.length; i++) expect(moves[i]!.at - moves[i - 1]!.at, 'one at a time').to.be.at.least(DRAIN_STEP_MS);
    expect(writes.every((w) => w.nodeId === 'node-b' && w.reason === 'drained')).to.equal(true);
    expect(writes).to.have.length(peers.length);
    expect(one.nodes().find((n) => n.nodeId === 'node-a')).to.include({ draining: true, drainMarked: true, placed: 0 });
    // The drained node takes nobody new while marked; unmarked, it takes peers again.
    expect(await one.where('chair')).to.include({ nodeId: 'node-b' });
    await one.setDraining('node-a', false);
    expect(one.nodes().find((n) => n.nodeId === 'node-a')).to.include({ draining: false });
  });

  it('a node whose own record says draining is drained the same way', async () => {
    const a = record('node-a');
    const b = record('node-b');
    await renew(a);
    const one = await startPlacement();
    await one.where(DISTRICT);
    await renew(b, { ...a, draining: true });
    await flush();
    expect(one.nodeOf(DISTRICT)).to.equal('node-b');
  });

  it('marking a node that is not alive is refused with unknown_node and changes nothing', async () => {
    await renew(record('node-a'));
    const one = await startPlacement();
    try {
      await one.setDraining('node-x', true);
      expect.fail('refused');
    } catch (error) {
      expect((error as { code?: string }).code).to.equal('unknown_node');
    }
    expect((await store.drainingNodes(CONF)).size).to.equal(0);
  });
});
