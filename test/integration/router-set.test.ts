// RouterSet on 2 real workers: one router per worker, a track piped once per target router
// however many ask at once, placement on the least loaded live worker, and a worker's loss and
// replacement.
import { once } from 'node:events';
import { expect } from 'chai';
import { WorkerPool, mediaCodecs } from '../../sfu/index.ts';
import { RouterSet } from '../../sfu/RouterSet.ts';
import { micParameters, poolOptions, waitFor } from './media-fixture.ts';

describe('RouterSet on 2 real workers', function () {
  this.timeout(20_000);
  let pool: WorkerPool;
  let set: RouterSet | undefined;

  beforeEach(async () => {
    pool = await WorkerPool.create(await poolOptions(2));
  });
  afterEach(() => {
    set?.close();
    pool?.close();
  });

  /** A microphone producer at home on worker `index`. */
  async function track(index: number): Promise<string> {
    const transport = await set!.router(index)!.createWebRtcTransport({ webRtcServer: set!.webRtcServer(index) });
    return (await transport.produce({ kind: 'audio', rtpParameters: micParameters() })).id;
  }

  /** How many consumers a router holds of a producer (the pipe's own consumer included). */
  async function consumersOf(index: number, producerId: string): Promise<number> {
    const dump = (await set!.router(index)!.dump()) as { mapProducerIdConsumerIds: Record<string, string[]> };
    return dump.mapProducerIdConsumerIds[producerId]?.length ?? 0;
  }

  it('pipes a track once per target router, however many ask at the same time; nothing at home', async () => {
    set = await RouterSet.create(pool, { conferenceId: 'rs', codecs: mediaCodecs });
    expect(set.routers.map((r) => !!r && !r.closed)).to.deep.equal([true, true]);
    const id = await track(0);
    await set.makeAvailable(id, { worker: 0 }, 0);
    expect(await consumersOf(0, id), 'at home: no pipe').to.equal(0);
    await Promise.all([set.makeAvailable(id, { worker: 0 }, 1), set.makeAvailable(id, { worker: 0 }, 1), set.makeAvailable(id, { worker: 0 }, 1)]);
    await set.makeAvailable(id, { worker: 0 }, 1);
    expect(await consumersOf(0, id), 'one pipe consumer at home').to.equal(1);
    const there = (await set.router(1)!.dump()) as { mapProducerIdConsumerIds: Record<string, string[]> };
    expect(Object.keys(there.mapProducerIdConsumerIds)).to.deep.equal([id]);
  });

  it('places on the least loaded live worker; loses a worker, rehomes from it, and rebuilds its router', async () => {
    set = await RouterSet.create(pool, { conferenceId: 'rs', codecs: mediaCodecs });
    set.addLoad(0, 3);
    expect(set.place()).to.equal(1);
    const id = await track(0);
    await set.makeAvailable(id, { worker: 0 }, 1);
    const lost = once(set, 'workerlost') as Promise<[{ index: number }]>;
    const rebuilt = once(set, 'routerrebuilt') as Promise<[{ index: number }]>;
    process.kill(pool.slot(1).worker.pid, 'SIGKILL');
    expect((await lost)[0].index).to.equal(1);
    expect(set.router(1)).to.equal(undefined);
    expect(set.place(), 'only worker 0 is live').to.equal(0);
    // A peer of the dead worker moves to the live one, and its load with it.
    expect(set.rehome(1)).to.equal(0);
    expect(pool.slot(0).load).to.equal(4);
    expect(set.workers().map((w) => w.hasRouter)).to.deep.equal([true, false]);
    // The pipe into the dead worker is forgotten: once rebuilt, the track is piped there anew.
    expect((await rebuilt)[0].index).to.equal(1);
    await waitFor('a live router on the replaced worker', () => set!.router(1) && !set!.router(1)!.closed);
    await set.makeAvailable(id, { worker: 0 }, 1);
    const there = (await set.router(1)!.dump()) as { mapProducerIdConsumerIds: Record<string, string[]> };
    expect(Object.keys(there.mapProducerIdConsumerIds)).to.deep.equal([id]);
  });

  it('close() closes every router, emits close once, is idempotent, and leaves the pool running', async () => {
    set = await RouterSet.create(pool, { conferenceId: 'rs', codecs: mediaCodecs });
    const routers = [...set.routers];
    let closes = 0;
    set.on('close', () => closes++);
    set.close();
    set.close();
    expect(closes).to.equal(1);
    expect(set.closed).to.equal(true);
    expect(routers.every((r) => r!.closed)).to.equal(true);
    expect(() => set!.rtpCapabilities).to.throw().with.property('code', 'invalid_state');
    expect(pool.closed).to.equal(false);
  });
});
