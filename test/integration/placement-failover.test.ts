// Two control instances on one real redis (each its own RedisPlacementStore connection) place the
// 212 halls and the consoles, then react to a media node whose lease ends. Node records written
// through the NodeRegistry interface into one in-process memory registry stand in for the media
// nodes (the media side's redis registry takes its place when it lands): every hall of the lost
// node is placed elsewhere exactly once, within capacity, and both instances tell their pages.
import { expect } from 'chai';
import { defaultPlan } from '../../config/default-plan.ts';
import { NODE_LEASE_MS, NODE_RENEW_MS } from '../../server/app/media-node/NodeLease.ts';
import { ClusterPlacement, PLACEMENT_TICK_MS } from '../../server/app/placement/ClusterPlacement.ts';
import type { MediaWhere } from '../../server/app/placement/MediaPlacement.ts';
import { STAFF_PEER_KEYS } from '../../server/core/placement.ts';
import { SystemClock } from '../../server/core/conference/index.ts';
import type { MediaNodeRecord, PlacementRecord } from '../../server/protocol/cluster.ts';
import { MemoryNodeRegistry, RedisPlacementStore } from '../../server/store/index.ts';
import { freshConferenceId } from '../unit/store/helpers.ts';
import { waitFor } from './media-fixture.ts';
import { startRedisServer, type RedisServer } from './store/redis-server.ts';

// The media nodes' lease and renewal (the records here stand in for them).
const LEASE_MS = NODE_LEASE_MS;
const RENEW_MS = NODE_RENEW_MS;

describe('placement on one redis, two control instances, a media node lost (registry records stand in for media nodes)', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let registry: MemoryNodeRegistry;
  const stores: RedisPlacementStore[] = [];
  const placements: ClusterPlacement[] = [];
  const renewing = new Map<string, ReturnType<typeof setInterval>>();

  const record = (nodeId: string, capacity: number): MediaNodeRecord => ({
    nodeId,
    mediaUrl: `https://${nodeId}.vt-langson.example:4443`,
    nodeApiUrl: `http://${nodeId}.internal:4444`,
    announcedIp: '10.20.0.1',
    workers: 2,
    load: { peers: 0, consumers: 0, cpu: 0.1 },
    capacity,
    labels: { region: nodeId },
    draining: false,
    startedAt: Date.now(),
    renewedAt: Date.now(),
  });
  /** A node that renews its lease every second, as a media node does, until stopped. */
  const runNode = async (r: MediaNodeRecord): Promise<void> => {
    await registry.announce(r, LEASE_MS);
    renewing.set(r.nodeId, setInterval(() => void registry.announce({ ...r, renewedAt: Date.now() }, LEASE_MS), RENEW_MS));
  };

  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const t of renewing.values()) clearInterval(t);
    for (const p of placements) await p.close();
    for (const s of stores) await s.close();
    await registry?.close();
    await redis?.stop();
  });

  it('every hall of the lost node is placed on a survivor exactly once, within capacity; both instances tell their pages', async () => {
    const conferenceId = freshConferenceId('failover');
    const plan = defaultPlan();
    registry = new MemoryNodeRegistry();
    for (const r of [record('node-1', 120), record('node-2', 120), record('node-3', 120)]) await runNode(r);
    const writes: PlacementRecord[] = [];
    for (let i = 0; i < 2; i++) {
      const store = await RedisPlacementStore.create({ url: redis.url });
      const placeAll = store.placeAll.bind(store);
      store.placeAll = async (...args) => {
        const stored = await placeAll(...args);
        if (stored) writes.push(...stored);
        return stored;
      };
      stores.push(store);
      placements.push(await ClusterPlacement.start({ conferenceId, plan, nodes: registry, store, clock: new SystemClock(), online: () => true, problem: (m, e) => console.error(m, e) }));
    }
    const [one, two] = placements as [ClusterPlacement, ClusterPlacement];
    const peers = [...plan.bridges.map((b) => b.id), ...STAFF_PEER_KEYS];
    // Pages ask both instances, half each, two at a time from different instances.
    await Promise.all(peers.map((k, i) => (i % 2 ? one : two).where(k)));
    expect(writes.length, 'each peer placed once').to.equal(peers.length);
    await waitFor('both instances know every placement', () => peers.every((k) => one.nodeOf(k) && one.nodeOf(k) === two.nodeOf(k)));
    const onNode = (p: ClusterPlacement, nodeId: string): string[] => peers.filter((k) => p.nodeOf(k) === nodeId);
    const lost = onNode(one, 'node-2');
    expect(lost.length).to.be.greaterThan(10);
    for (const n of ['node-1', 'node-2', 'node-3']) expect(onNode(one, n).length, `${n} within capacity`).to.be.at.most(120);
    // A district and its communes together (where capacity allowed).
    const district = plan.bridges.find((b) => b.tier === 'district')!.id;
    const communes = plan.bridges.filter((b) => b.parentId === district).map((b) => b.id);
    expect(new Set([district, ...communes].map((k) => one.nodeOf(k))).size).to.equal(1);

    const told: MediaWhere[][] = [[], []];
    one.on('moved', (w) => told[0]!.push(w));
    two.on('moved', (w) => told[1]!.push(w));
    writes.length = 0;
    clearInterval(renewing.get('node-2'));
    const stoppedAt = Date.now();
    await waitFor('every peer of node-2 moved, seen by both instances', () => lost.every((k) => one.nodeOf(k) !== 'node-2' && two.nodeOf(k) !== 'node-2'), 10_000, 20);
    const movedAfter = Date.now() - stoppedAt;
    console.log(`      ${lost.length} peers moved ${movedAfter} ms after node-2's last renewal (lease ${LEASE_MS} ms)`);
    expect(movedAfter).to.be.at.most(LEASE_MS + RENEW_MS + 2 * PLACEMENT_TICK_MS + 500);
    await new Promise((r) => setTimeout(r, 3 * PLACEMENT_TICK_MS));
    expect(writes.map((w) => w.peerKey).sort(), 'each peer of node-2 written once, nothing else').to.deep.equal([...lost].sort());
    expect(writes.every((w) => w.reason === 'node_lost' && w.nodeId !== 'node-2')).to.equal(true);
    for (const n of ['node-1', 'node-3']) expect(onNode(two, n).length, `${n} within capacity`).to.be.at.most(120);
    for (const t of told) expect(t.map((w) => w.peerKey).sort(), 'each instance tells its pages of every move').to.deep.equal([...lost].sort());
    expect(told[0]!.every((w) => w.mediaUrl === `https://${w.nodeId}.vt-langson.example:4443`)).to.equal(true);
    // The district still with its communes.
    expect(new Set([district, ...communes].map((k) => two.nodeOf(k))).size).to.equal(1);
  });
});
