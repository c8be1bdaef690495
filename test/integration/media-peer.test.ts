// MediaPeer as a resource, on a real mediasoup worker: it owns its transports, producers and
// consumers; close() takes them all down and emits 'close' once; workerClosed() forgets media that
// went with its worker and leaves the peer open.
import { expect } from 'chai';
import type { types as ms } from 'mediasoup';
import { WorkerPool, mediaCodecs } from '../../sfu/index.ts';
import { MediaPeer } from '../../sfu/MediaPeer.ts';
import { DISTRICT, PROVINCE, RecordingSink, camParameters, micParameters, poolOptions, waitFor } from './media-fixture.ts';

describe('MediaPeer on a real worker', function () {
  this.timeout(20_000);
  let pool: WorkerPool;
  let router: ms.Router;

  before(async () => {
    pool = await WorkerPool.create(await poolOptions(1));
  });
  after(() => pool?.close());
  beforeEach(async () => {
    router = await pool.slot(0).worker.createRouter({ mediaCodecs });
  });
  afterEach(() => router?.close());

  /** A hall with both transports, its microphone and camera published. */
  async function hall(bridgeId: string): Promise<MediaPeer> {
    const peer = new MediaPeer(`peer-${bridgeId}`, { bridgeId, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink(), 0);
    peer.rtpCapabilities = router.rtpCapabilities;
    const send = await peer.openWebRtcTransport('send', router, pool.slot(0).webRtcServer);
    await peer.openWebRtcTransport('recv', router, pool.slot(0).webRtcServer);
    await peer.produce(send, 'mic', { kind: 'audio', rtpParameters: micParameters() });
    await peer.produce(send, 'cam', { kind: 'video', rtpParameters: camParameters() });
    return peer;
  }

  /** Makes `peer` hold a consumer of `track`'s producer on its receive transport. */
  async function consume(peer: MediaPeer, producer: ms.Producer): Promise<ms.Consumer> {
    const consumer = await peer.transport('recv')!.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
    peer.holdConsumer(`main:${producer.id}`, { consumer, worker: 0, slot: 'onair', ready: true });
    return consumer;
  }

  it('close() closes its transports, producers and consumers, emits close once, and is idempotent', async () => {
    const district = await hall(DISTRICT);
    const province = await hall(PROVINCE);
    const held = await consume(district, province.publication('cam')!.producer);
    const watching = await consume(province, district.publication('cam')!.producer);
    const transports = district.transports();
    const producers = district.publications().map((p) => p.producer);
    expect(transports).to.have.length(2);
    expect(producers).to.have.length(2);
    let closes = 0;
    const unpublished: string[] = [];
    district.on('close', () => closes++);
    district.on('unpublished', (p) => unpublished.push(p.source));

    district.close();
    district.close();

    expect(closes).to.equal(1);
    expect(district.closed).to.equal(true);
    expect(transports.every((t) => t.closed)).to.equal(true);
    expect(producers.every((p) => p.closed)).to.equal(true);
    expect(held.closed, 'its consumer').to.equal(true);
    expect(unpublished.sort()).to.deep.equal(['cam', 'mic']);
    expect(district.transports()).to.deep.equal([]);
    expect([...district.consumers.keys()]).to.deep.equal([]);
    expect((district.sink as RecordingSink).closedConsumers, 'a closing peer tells its client nothing').to.deep.equal([]);
    // Who consumed its camera loses that consumer (when the worker says so) and is told.
    await waitFor('the province loses its consumer of the district', () => watching.closed);
    expect((province.sink as RecordingSink).closedConsumers).to.deep.equal([watching.id]);
    expect([...province.consumers.keys()]).to.deep.equal([]);
    // Nothing new can be attached to a closed peer.
    const refused = await district.openWebRtcTransport('recv', router, pool.slot(0).webRtcServer).catch((e: unknown) => e);
    expect(refused).to.have.property('code', 'unknown_peer');
    expect((await router.dump() as { transportIds: string[] }).transportIds).to.have.length(2); // the province's only
  });

  it('workerClosed() forgets the media that went with its router and keeps the peer open', async () => {
    const district = await hall(DISTRICT);
    const province = await hall(PROVINCE);
    await consume(district, province.publication('mic')!.producer);
    let closes = 0;
    district.on('close', () => closes++);
    router.close(); // as a dying worker takes its routers down

    district.workerClosed();

    expect(district.closed).to.equal(false);
    expect(closes).to.equal(0);
    expect(district.transports()).to.deep.equal([]);
    expect(district.publications()).to.deep.equal([]);
    expect(district.tracks()).to.deep.equal({});
    expect([...district.consumers.keys()]).to.deep.equal([]);
    // It publishes again on a new router.
    router = await pool.slot(0).worker.createRouter({ mediaCodecs });
    const send = await district.openWebRtcTransport('send', router, pool.slot(0).webRtcServer);
    await district.produce(send, 'mic', { kind: 'audio', rtpParameters: micParameters() });
    expect(Object.keys(district.tracks())).to.deep.equal(['mic']);
    district.close();
    expect(closes).to.equal(1);
  });
});
