// The behaviour every NodeRegistry must have (media nodes' leases, issue 13); run against the
// memory registry (unit) and a real redis-server (integration). Leases run on real time here.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { MediaNodeRecord } from '../../../server/protocol/cluster.ts';
import type { NodeChange, NodeRegistry, StoreResource } from '../../../server/store/index.ts';
import { rejectsWith, waitUntil } from './store-contract.ts';

/** A node record with a fresh id. */
export function nodeRecord(extra: Partial<MediaNodeRecord> = {}): MediaNodeRecord {
  const nodeId = extra.nodeId ?? `n-${randomUUID().slice(0, 8)}`;
  return {
    nodeId,
    mediaUrl: 'http://127.0.0.1:3100',
    nodeApiUrl: 'http://127.0.0.1:3100',
    announcedIp: '127.0.0.1',
    workers: 2,
    load: { peers: 3, consumers: 12, cpu: 0.25 },
    capacity: 400,
    labels: { region: 'dong-bac' },
    draining: false,
    startedAt: 1000,
    renewedAt: 1000,
    ...extra,
  };
}

/** Registers the contract tests; `open` gives a registry per test, which the contract closes. */
export function nodeRegistryContract(open: () => Promise<NodeRegistry & StoreResource>): void {
  let registry: NodeRegistry & StoreResource;
  const mine: string[] = [];

  beforeEach(async () => {
    registry = await open();
  });

  afterEach(async () => {
    if (!registry.closed) for (const id of mine.splice(0)) await registry.withdraw(id);
    await registry.close();
  });

  const announce = async (record: MediaNodeRecord, ttlMs: number): Promise<void> => {
    mine.push(record.nodeId);
    await registry.announce(record, ttlMs);
  };
  const live = async (): Promise<string[]> => (await registry.liveNodes()).map((n) => n.nodeId).filter((id) => mine.includes(id)).sort();

  it('a node announced is live with its record; a lease not renewed ends; withdraw ends it at once', async () => {
    const a = nodeRecord();
    const b = nodeRecord();
    await announce(a, 10_000);
    await announce(b, 150);
    expect(await live()).to.deep.equal([a.nodeId, b.nodeId].sort());
    expect((await registry.liveNodes()).find((n) => n.nodeId === a.nodeId)).to.deep.equal(a);
    await new Promise((r) => setTimeout(r, 300));
    expect(await live()).to.deep.equal([a.nodeId]);
    // Renewed in time, it stays.
    await announce(b, 10_000);
    expect(await live()).to.deep.equal([a.nodeId, b.nodeId].sort());
    await registry.withdraw(a.nodeId);
    expect(await live()).to.deep.equal([b.nodeId]);
  });

  it('watchers hear a node come, change and go (lease ended or withdrawn); a renewal alone is no news', async () => {
    const changes: string[] = [];
    const watch = await registry.watchNodes((c: NodeChange) => {
      const id = c.kind === 'up' ? c.node.nodeId : c.nodeId;
      if (mine.includes(id)) changes.push(c.kind === 'up' ? `up ${id} ${c.node.draining ? 'draining' : ''}`.trim() : `down ${id}`);
    });
    const a = nodeRecord();
    const b = nodeRecord();
    await announce(a, 10_000);
    await announce(b, 200);
    await waitUntil(() => changes.length >= 2, 3000);
    await registry.announce({ ...a, renewedAt: a.renewedAt + 1000 }, 10_000);
    await registry.announce({ ...a, draining: true, renewedAt: a.renewedAt + 2000 }, 10_000);
    await waitUntil(() => changes.includes(`up ${a.nodeId} draining`), 3000);
    await waitUntil(() => changes.includes(`down ${b.nodeId}`), 3000);
    await registry.withdraw(a.nodeId);
    await waitUntil(() => changes.includes(`down ${a.nodeId}`), 3000);
    expect(changes.filter((c) => c.includes(a.nodeId))).to.deep.equal([`up ${a.nodeId}`, `up ${a.nodeId} draining`, `down ${a.nodeId}`]);
    expect(changes.filter((c) => c.includes(b.nodeId))).to.deep.equal([`up ${b.nodeId}`, `down ${b.nodeId}`]);
    await watch.close();
    await watch.close();
  });

  it('endLease ends a lease at once, only of the incarnation named: watchers hear it as a lease that ran out; a new run keeps its own', async () => {
    const changes: string[] = [];
    const watch = await registry.watchNodes((c: NodeChange) => {
      const id = c.kind === 'up' ? c.node.nodeId : c.nodeId;
      if (mine.includes(id)) changes.push(c.kind === 'up' ? `up ${id} ${c.node.incarnation}` : `down ${id}`);
    });
    const a = nodeRecord({ incarnation: 'run-one-aaaa' });
    const noRun = nodeRecord();
    await announce(a, 10_000);
    await announce(noRun, 10_000);
    await waitUntil(() => changes.length >= 2, 3000);
    // Another incarnation, or a record without one, is not ended.
    expect(await registry.endLease(a.nodeId, 'run-two-bbbb')).to.equal(false);
    expect(await registry.endLease(noRun.nodeId, 'run-one-aaaa')).to.equal(false);
    expect(await registry.endLease('n-never-here', 'run-one-aaaa')).to.equal(false);
    expect(await live()).to.deep.equal([a.nodeId, noRun.nodeId].sort());
    expect(await registry.endLease(a.nodeId, 'run-one-aaaa')).to.equal(true);
    expect(await live()).to.deep.equal([noRun.nodeId]);
    await waitUntil(() => changes.includes(`down ${a.nodeId}`), 3000);
    expect(await registry.endLease(a.nodeId, 'run-one-aaaa'), 'a second end').to.equal(false);
    // The node's next run announces itself with its own incarnation; the old one's end leaves it alone.
    await announce({ ...a, incarnation: 'run-two-bbbb', startedAt: a.startedAt + 5000 }, 10_000);
    expect(await registry.endLease(a.nodeId, 'run-one-aaaa')).to.equal(false);
    expect(await live()).to.deep.equal([a.nodeId, noRun.nodeId].sort());
    await watch.close();
  });

  it('close is idempotent and later calls fail with code closed', async () => {
    await registry.close();
    await registry.close();
    expect(registry.closed).to.equal(true);
    await rejectsWith(registry.liveNodes(), 'closed');
  });
}
