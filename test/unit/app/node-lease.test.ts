// A media node's lease on a fake clock with the memory registry: renewed while the node lives,
// even when its worker is too busy to answer (a burst of halls joining after a failover queues
// hundreds of requests ahead of getResourceUsage: renewals that waited for it let the lease of a
// live node run out, and the control plane moved its halls); the CPU is the last sample taken.
import { expect } from 'chai';
import { NODE_LEASE_MS, NODE_RENEW_MS, NodeLease } from '../../../server/app/media-node/NodeLease.ts';
import { FakeClock } from '../../../server/core/conference/index.ts';
import { MemoryNodeRegistry } from '../../../server/store/index.ts';
import type { WorkerPool } from '../../../sfu/index.ts';

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** A pool of one worker whose getResourceUsage answers only when `answer` is called. */
function slowPool(): { pool: WorkerPool; answer: (cpuMs: number) => void; asked: () => number } {
  const waiting: ((u: { ru_utime: number; ru_stime: number }) => void)[] = [];
  const worker = { pid: 4242, getResourceUsage: () => new Promise((resolve) => waiting.push(resolve)) };
  const pool = { size: 1, slots: [{ index: 0, worker, load: 0 }] } as unknown as WorkerPool;
  return {
    pool,
    answer: (cpuMs) => {
      for (const w of waiting.splice(0)) w({ ru_utime: cpuMs, ru_stime: 0 });
    },
    asked: () => waiting.length,
  };
}

describe('NodeLease (fake clock, memory registry)', () => {
  it('a node whose worker does not answer keeps its lease: renewals never wait for the CPU sample', async () => {
    const clock = new FakeClock(1_000_000);
    const registry = new MemoryNodeRegistry(clock);
    const { pool, answer, asked } = slowPool();
    const problems: string[] = [];
    const lease = await NodeLease.start({
      registry,
      record: { nodeId: 'media1', mediaUrl: 'https://media1.example', nodeApiUrl: 'http://media1.internal:4444', announcedIp: '10.0.0.1', capacity: 300, labels: {}, draining: false },
      pool,
      counts: () => ({ peers: 3, consumers: 9 }),
      clock,
      problem: (m) => problems.push(m),
    });
    // The worker answers nothing for three leases: the node stays live all along.
    for (let t = 0; t < 3 * NODE_LEASE_MS; t += NODE_RENEW_MS) {
      clock.increment(NODE_RENEW_MS);
      await flush();
      expect((await registry.liveNodes()).map((n) => n.nodeId), `live at +${t + NODE_RENEW_MS} ms`).to.deep.equal(['media1']);
    }
    expect(asked(), 'one CPU sample at a time').to.equal(1);
    // The worker answers at last: the first sample (taken at the start) is the baseline. The next
    // renewal takes a second sample, answered with 2,000 ms more CPU over the 8 s between the
    // two samples' starts: 0.25 of a core, in the renewals after it.
    const firstAt = clock.now() - 3 * NODE_LEASE_MS;
    answer(1000);
    await flush();
    clock.increment(NODE_RENEW_MS);
    await flush();
    expect(asked(), 'the next renewal samples again').to.equal(1);
    const secondAt = clock.now();
    answer(1000 + 0.25 * (secondAt - firstAt));
    await flush();
    clock.increment(NODE_RENEW_MS);
    await flush();
    const [node] = await registry.liveNodes();
    expect(node!.load).to.deep.equal({ peers: 3, consumers: 9, cpu: 0.25 });
    expect(problems).to.deep.equal([]);
    await lease.close();
    expect(await registry.liveNodes()).to.deep.equal([]);
    await registry.close();
  });
});
