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

  /** Wraps `transport`'s produce so that `meanwhile` runs while the request is on its way to the worker; gives the producer made. */
  function produceRacing(transport: ms.Transport, meanwhile: () => unknown): { made: () => ms.Producer | undefined } {
    let made: ms.Producer | undefined;
    const produce = transport.produce.bind(transport);
    transport.produce = ((options: ms.ProducerOptions) => {
      const request = produce(options); // the request is on its way to the worker
      void meanwhile();
      return request.then((p) => (made = p));
    }) as typeof transport.produce;
    return { made: () => made };
  }

  it('a send transport replaced while a producer is being made on it (the replacement timed into the produce request by wrapping the transport\'s produce): the producer is closed, not recorded, the caller gets unknown_transport, and the hall publishes on the new transport', async () => {
    // mediasoup builds the Producer when the worker answers; the transport closed meanwhile took
    // only the producers it had, so this one came back open on a transport the worker no longer
    // has and stood as the hall's publication with no media ever forwarded.
    const peer = new MediaPeer('peer-race', { bridgeId: DISTRICT, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink(), 0);
    const first = await peer.openWebRtcTransport('send', router, pool.slot(0).webRtcServer);
    let second: Promise<ms.WebRtcTransport> | undefined;
    const race = produceRacing(first, () => (second = peer.openWebRtcTransport('send', router, pool.slot(0).webRtcServer)));
    let unpublished = 0;
    peer.on('unpublished', () => unpublished++);

    const refused = await peer.produce(first, 'mic', { kind: 'audio', rtpParameters: micParameters() }).then(
      (p) => new Error(`produce resolved with producer ${p.producer.id} (closed: ${p.producer.closed}) on a transport closed: ${first.closed}`),
      (e: unknown) => e,
    );
    expect(second, 'the replacement ran during the produce request').to.not.equal(undefined);
    expect(first.closed, 'the first transport').to.equal(true);
    expect((refused as { code?: string }).code, String(refused)).to.equal('unknown_transport');
    expect(race.made()?.closed, 'the producer made on the closed transport').to.equal(true);
    expect(peer.publication('mic'), 'recorded as the hall\'s microphone').to.equal(undefined);
    expect(peer.tracks()).to.deep.equal({});
    expect(unpublished, 'nothing was published, so nothing unpublished').to.equal(0);

    // The client produces again on its new transport: that one is recorded, and is in the worker.
    const now = await second!;
    const mic = await peer.produce(now, 'mic', { kind: 'audio', rtpParameters: micParameters() });
    expect(Object.keys(peer.tracks())).to.deep.equal(['mic']);
    expect(((await now.dump()) as { producerIds: string[] }).producerIds).to.deep.equal([mic.producer.id]);
    peer.close();
  });

  it('a peer closed while a producer is being made (timed into the produce request by wrapping the transport\'s produce): the producer is closed and the caller gets unknown_peer', async () => {
    const peer = new MediaPeer('peer-race', { bridgeId: DISTRICT, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink(), 0);
    const send = await peer.openWebRtcTransport('send', router, pool.slot(0).webRtcServer);
    const race = produceRacing(send, () => peer.close());
    const refused = await peer.produce(send, 'cam', { kind: 'video', rtpParameters: camParameters() }).then(
      (p) => new Error(`produce resolved with producer ${p.producer.id} (closed: ${p.producer.closed})`),
      (e: unknown) => e,
    );
    expect((refused as { code?: string }).code, String(refused)).to.equal('unknown_peer');
    expect(race.made()?.closed, 'the producer made for the closed peer').to.equal(true);
    expect(peer.publications()).to.deep.equal([]);
    expect((await router.dump() as { transportIds: string[] }).transportIds, 'what the worker has').to.deep.equal([]);
  });
});
