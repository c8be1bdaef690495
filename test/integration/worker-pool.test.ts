import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { expect } from 'chai';
import { WorkerPool, mediaCodecs } from '../../sfu/index.ts';
import type { WorkerPoolEvents, WorkerPoolOptions } from '../../sfu/index.ts';
import { alive, poolOptions, waitFor } from './media-fixture.ts';

/** Proves a slot's WebRtcServer serves: a router on its worker gets a transport through it. */
async function transportThroughSlot(pool: WorkerPool, index: number) {
  const slot = pool.slot(index);
  const router = await slot.worker.createRouter({ mediaCodecs });
  try {
    const transport = await router.createWebRtcTransport({ webRtcServer: slot.webRtcServer, enableUdp: true, enableTcp: true });
    return { id: transport.id, candidates: transport.iceCandidates.map((c) => `${c.protocol} ${c.ip}:${c.port}`).sort() };
  } finally {
    router.close();
  }
}

describe('WorkerPool (real mediasoup workers)', function () {
  this.timeout(20_000);
  let options: WorkerPoolOptions;
  let pool: WorkerPool | undefined;

  beforeEach(async () => {
    options = await poolOptions(2);
  });

  afterEach(() => {
    pool?.close();
    pool = undefined;
  });

  it('starts 2 live worker processes, each with a WebRtcServer on basePort + index', async () => {
    pool = await WorkerPool.create(options);
    expect(pool.size).to.equal(2);
    expect(pool.slots.map((s) => s.index)).to.deep.equal([0, 1]);
    const pids = pool.pids();
    expect(pids).to.have.length(2);
    expect(new Set(pids).size).to.equal(2);
    for (const pid of pids) expect(alive(pid), `worker ${pid} alive`).to.equal(true);
    for (const index of [0, 1]) {
      const port = options.webRtcBasePort + index;
      const { candidates } = await transportThroughSlot(pool, index);
      expect(candidates).to.deep.equal([`tcp 127.0.0.1:${port}`, `udp 127.0.0.1:${port}`]);
    }
  });

  it('leastLoaded picks the live worker with the smallest load; addLoad never goes below 0', async () => {
    pool = await WorkerPool.create(options);
    expect(pool.slots.map((s) => s.load)).to.deep.equal([0, 0]);
    expect(pool.leastLoaded()).to.equal(0); // ties go to the lowest index
    pool.addLoad(0, 3);
    expect(pool.leastLoaded()).to.equal(1);
    pool.addLoad(1, 5);
    expect(pool.leastLoaded()).to.equal(0);
    expect(pool.leastLoaded((i) => i !== 0)).to.equal(1);
    pool.addLoad(1, -10);
    expect(pool.slot(1).load).to.equal(0);
    pool.addLoad(7, 1); // unknown index: ignored
    expect(pool.slots.map((s) => s.load)).to.deep.equal([3, 0]);
    expect(() => pool!.leastLoaded(() => false)).to.throw('no live worker');
    expect(() => pool!.slot(2)).to.throw(RangeError);
  });

  for (const numWorkers of [0, -1, 1.5, Number.NaN]) {
    it(`rejects numWorkers ${numWorkers} without starting a process`, async () => {
      let error: unknown;
      try {
        pool = await WorkerPool.create({ ...options, numWorkers });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.include('invalid numWorkers');
    });
  }

  it('rejects when a WebRtcServer port is taken, and leaves no worker running', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(options.webRtcBasePort + 1, '127.0.0.1', () => r()));
    const before = new Set(childWorkerPids());
    try {
      let error: unknown;
      try {
        pool = await WorkerPool.create(options);
      } catch (e) {
        error = e;
      }
      expect(error, 'create() rejected').to.be.instanceOf(Error);
      expect((error as Error).message).to.include('address already in use');
      await waitFor('started workers gone', () => childWorkerPids().every((pid) => before.has(pid)));
    } finally {
      blocker.close();
    }
  });

  it('close() is idempotent and ends the worker processes', async () => {
    pool = await WorkerPool.create(options);
    const pids = pool.pids();
    pool.close();
    pool.close();
    expect(pool.closed).to.equal(true);
    expect(pool.slots.every((s) => s.worker.closed)).to.equal(true);
    await waitFor('worker processes gone', () => pids.every((pid) => !alive(pid)));
  });

  it('a worker killed with SIGKILL is reported, replaced on the same slot by a new live process, and its WebRtcServer serves', async () => {
    pool = await WorkerPool.create(options);
    const [pid0, pid1] = pool.pids() as [number, number];
    const died = once(pool, 'workerdied') as Promise<WorkerPoolEvents['workerdied']>;
    const replaced = once(pool, 'workerreplaced') as Promise<WorkerPoolEvents['workerreplaced']>;
    process.kill(pid1, 'SIGKILL');

    const [d] = await died;
    expect(d.index).to.equal(1);
    expect(d.pid).to.equal(pid1);
    expect(d.error).to.be.instanceOf(Error);
    expect(d.error.message).to.include('SIGKILL');

    const [r] = await replaced;
    expect(r.index).to.equal(1);
    expect(r.pid).to.not.equal(pid1);
    expect(alive(r.pid)).to.equal(true);
    expect(alive(pid1)).to.equal(false);
    expect(pool.pids()).to.deep.equal([pid0, r.pid]);
    expect(pool.slot(1).worker.pid).to.equal(r.pid);
    expect(pool.slot(1).worker.died).to.equal(false);
    // The replacement listens on the same port as the dead worker did.
    const port = options.webRtcBasePort + 1;
    const { candidates } = await transportThroughSlot(pool, 1);
    expect(candidates).to.deep.equal([`tcp 127.0.0.1:${port}`, `udp 127.0.0.1:${port}`]);
    // The survivor was untouched.
    expect(pool.slot(0).worker.pid).to.equal(pid0);
    expect(alive(pid0)).to.equal(true);
  });

  it('leastLoaded skips a dead worker until it is replaced', async () => {
    pool = await WorkerPool.create(options);
    pool.addLoad(1, 10);
    const died = once(pool, 'workerdied');
    const replaced = once(pool, 'workerreplaced');
    process.kill(pool.slot(0).worker.pid, 'SIGKILL');
    await died;
    // Slot 0 is dead (its load reset to 0) yet slot 1 must be chosen.
    expect(pool.slot(0).load).to.equal(0);
    expect(pool.leastLoaded()).to.equal(1);
    await replaced;
    expect(pool.leastLoaded()).to.equal(0);
  });

  it('when the port is still taken, reports workerfailed and retries until the replacement starts', async () => {
    pool = await WorkerPool.create(options);
    const port = options.webRtcBasePort + 1;
    const failed: WorkerPoolEvents['workerfailed'][0][] = [];
    pool.on('workerfailed', (e) => failed.push(e));
    const blocker = net.createServer();
    // Take the dead worker's TCP port before the replacement can bind it.
    pool.once('workerdied', () => blocker.listen(port, '127.0.0.1'));
    const replaced = once(pool, 'workerreplaced') as Promise<WorkerPoolEvents['workerreplaced']>;
    process.kill(pool.slot(1).worker.pid, 'SIGKILL');
    await waitFor('a failed replacement', () => failed.length > 0);
    expect(failed[0]!.index).to.equal(1);
    expect(failed[0]!.error.message).to.include('address already in use');
    blocker.close();
    const [r] = await replaced;
    expect(r.index).to.equal(1);
    expect(alive(r.pid)).to.equal(true);
    const { candidates } = await transportThroughSlot(pool, 1);
    expect(candidates).to.deep.equal([`tcp 127.0.0.1:${port}`, `udp 127.0.0.1:${port}`]);
  });

  it('close() during a replacement leaves no worker process behind', async () => {
    const before = new Set(childWorkerPids());
    pool = await WorkerPool.create(options);
    const ours = pool.pids();
    expect(childWorkerPids().filter((pid) => !before.has(pid)).sort()).to.deep.equal([...ours].sort());
    const died = once(pool, 'workerdied');
    process.kill(ours[0]!, 'SIGKILL');
    await died;
    pool.close(); // the replacement is starting now
    // Give the replacement time to come up (and be closed by the pool).
    await new Promise((r) => setTimeout(r, 500));
    await waitFor('no worker of this pool left', () => childWorkerPids().every((pid) => before.has(pid)));
  });
});

/** Pids of mediasoup worker processes that are children of this test process. */
function childWorkerPids(): number[] {
  const out: number[] = [];
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised name: state ppid ...
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const [state, ppid] = stat.slice(close + 2).split(' ');
      if (state !== 'Z' && Number(ppid) === process.pid && name.startsWith('mediasoup-work')) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
