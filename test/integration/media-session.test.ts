import { once } from 'node:events';
import { expect } from 'chai';
import { MediaSession, SfuError, WorkerPool } from '../../sfu/index.ts';
import type { MediaSessionOptions, SfuErrorCode } from '../../sfu/index.ts';
import {
  COMMUNE,
  COMMUNE_2,
  DISTRICT,
  DISTRICT_2,
  PROVINCE,
  RecordingSink,
  alive,
  camParameters,
  eventuallyEqual,
  expectedRouting,
  hallOptions,
  joinConsole,
  joinHall,
  micParameters,
  pausedConsumers,
  poolOptions,
  publish,
  routerProducerIds,
  routerTransportIds,
  routing,
  type TestPeer,
} from './media-fixture.ts';

const BRIDGES = [PROVINCE, DISTRICT, DISTRICT_2, COMMUNE, COMMUNE_2, 'c-05974', 'c-05977', 'c-05980', 'c-05983', 'c-05986', 'c-05989'];
const HALLS = [PROVINCE, DISTRICT, COMMUNE, COMMUNE_2];

function sessionOptions(): MediaSessionOptions {
  return { conferenceId: 'test', chairBridgeId: PROVINCE, bridgeIds: BRIDGES, switchBatchMs: 100, consumeTimeoutMs: 2000 };
}

/** The SfuError code a call fails with (or 'no error'). */
async function codeOf(call: () => unknown): Promise<SfuErrorCode | 'no error' | string> {
  try {
    await call();
    return 'no error';
  } catch (error) {
    return error instanceof SfuError ? error.code : `not an SfuError: ${String(error)}`;
  }
}

/** Bridges whose microphone producer is running (not paused at the server). */
function openMics(session: MediaSession): string[] {
  return session
    .snapshot()
    .peers.filter((p) => p.producers.some((x) => x.source === 'mic' && !x.paused))
    .map((p) => p.bridgeId!)
    .sort();
}

/** Consumer id held by a peer for a bridge's source, from the snapshot. */
function consumerOf(session: MediaSession, holder: string, bridgeId: string, source: 'mic' | 'cam'): string | undefined {
  const peer = session.snapshot().peers.find((p) => (p.bridgeId ?? p.peerId) === holder);
  return peer?.consumers.find((c) => c.bridgeId === bridgeId && c.source === source)?.id;
}

/** Joins halls one after another, waiting for each hall's routing to settle (placement is then deterministic). */
async function joinHalls(session: MediaSession, bridgeIds: string[]): Promise<Map<string, TestPeer>> {
  const halls = new Map<string, TestPeer>();
  for (const bridgeId of bridgeIds) {
    halls.set(bridgeId, await joinHall(session, bridgeId));
    await eventuallyEqual(`routing after ${bridgeId} joined`, () => routing(session), expectedRouting([...halls.keys()], session.onAir));
  }
  return halls;
}

describe('MediaSession on 2 real mediasoup workers (synthetic RTP on unconnected transports)', function () {
  this.timeout(20_000);
  let pool: WorkerPool;
  let session: MediaSession | undefined;

  before(async () => {
    pool = await WorkerPool.create(await poolOptions(2));
  });

  after(() => pool?.close());

  afterEach(() => {
    session?.close();
    session = undefined;
  });

  async function open(): Promise<MediaSession> {
    session = await MediaSession.create(pool, sessionOptions());
    return session;
  }

  it('creates a router on every worker; its capabilities offer Opus and VP8', async () => {
    const s = await open();
    const routers = s.routers();
    expect(routers).to.have.length(2);
    expect(routers.every((r) => r && !r.closed)).to.equal(true);
    expect(new Set(routers.map((r) => r!.id)).size).to.equal(2);
    const mimeTypes = s.rtpCapabilities.codecs!.map((c) => c.mimeType);
    expect(mimeTypes).to.include.members(['audio/opus', 'video/VP8', 'video/rtx']);
    expect(s.onAir).to.equal(PROVINCE);
    expect(s.snapshot().workers.map((w) => w.hasRouter)).to.deep.equal([true, true]);
  });

  it('rejects a chair bridge that is not in the conference', async () => {
    const code = await codeOf(() => MediaSession.create(pool, { ...sessionOptions(), chairBridgeId: 'p-99' }));
    expect(code).to.equal('unknown_bridge');
  });

  it('starts with the chair p-20 on programme: every other hall consumes its camera and microphone, the chair hall nothing', async () => {
    const s = await open();
    const halls = await joinHalls(s, HALLS);
    expect(routing(s)).to.deep.equal({
      [PROVINCE]: [],
      [DISTRICT]: [`audio ${PROVINCE}/mic`, `onair ${PROVINCE}/cam`],
      [COMMUNE]: [`audio ${PROVINCE}/mic`, `onair ${PROVINCE}/cam`],
      [COMMUNE_2]: [`audio ${PROVINCE}/mic`, `onair ${PROVINCE}/cam`],
    });
    // The consumers go to the hall's sink with what the browser needs, and run once it accepted them.
    const province = halls.get(PROVINCE)!;
    const seen = halls.get(COMMUNE)!.sink.consumes.map((c) => ({ producerId: c.producerId, kind: c.kind, slot: c.slot, bridgeId: c.bridgeId, source: c.source }));
    expect(seen).to.have.deep.members([
      { producerId: province.camId, kind: 'video', slot: 'onair', bridgeId: PROVINCE, source: 'cam' },
      { producerId: province.micId, kind: 'audio', slot: 'audio', bridgeId: PROVINCE, source: 'mic' },
    ]);
    const video = halls.get(COMMUNE)!.sink.consumes.find((c) => c.kind === 'video')!;
    expect(video.rtpParameters.codecs[0]!.mimeType).to.equal('video/VP8');
    expect(video.rtpParameters.encodings).to.have.length(1); // one simulcast stream goes to each hall
    expect(province.sink.consumes).to.deep.equal([]);
    await eventuallyEqual('every consumer resumed', () => pausedConsumers(s), []);
  });

  it('setOnAir(d-178): halls consume d-178 camera and microphone plus the chair microphone; d-178 sees the chair', async () => {
    const s = await open();
    const halls = await joinHalls(s, HALLS);
    const oldCams = [DISTRICT, COMMUNE, COMMUNE_2].map((h) => consumerOf(s, h, PROVINCE, 'cam')!);
    const chairMicAtCommune = consumerOf(s, COMMUNE, PROVINCE, 'mic')!;
    const chairCamAtDistrict = consumerOf(s, DISTRICT, PROVINCE, 'cam')!;
    const onair = once(s, 'onair');

    await s.setOnAir(DISTRICT);

    expect(s.onAir).to.equal(DISTRICT);
    const [event] = (await onair) as [{ bridgeId: string }];
    expect(event.bridgeId).to.equal(DISTRICT);
    await eventuallyEqual('routing with d-178 on programme', () => routing(s), expectedRouting(HALLS, DISTRICT));
    expect(routing(s)).to.deep.equal({
      [PROVINCE]: [`audio ${DISTRICT}/mic`, `onair ${DISTRICT}/cam`],
      [DISTRICT]: [`audio ${PROVINCE}/mic`, `onair ${PROVINCE}/cam`],
      [COMMUNE]: [`audio ${DISTRICT}/mic`, `audio ${PROVINCE}/mic`, `onair ${DISTRICT}/cam`],
      [COMMUNE_2]: [`audio ${DISTRICT}/mic`, `audio ${PROVINCE}/mic`, `onair ${DISTRICT}/cam`],
    });
    // The chair's camera is withdrawn from the halls that now watch d-178 ...
    expect(halls.get(COMMUNE)!.sink.closedConsumers).to.include(oldCams[1]);
    expect(halls.get(COMMUNE_2)!.sink.closedConsumers).to.include(oldCams[2]);
    // ... while consumers that stay (the chair's microphone; the chair's camera at d-178) are kept, not renegotiated.
    expect(consumerOf(s, COMMUNE, PROVINCE, 'mic')).to.equal(chairMicAtCommune);
    expect(consumerOf(s, DISTRICT, PROVINCE, 'cam')).to.equal(chairCamAtDistrict);
    expect(halls.get(DISTRICT)!.sink.closedConsumers).to.deep.equal([]);
    await eventuallyEqual('every consumer resumed', () => pausedConsumers(s), []);

    // And back to the chair.
    await s.setOnAir(PROVINCE);
    await eventuallyEqual('routing with p-20 back on programme', () => routing(s), expectedRouting(HALLS, PROVINCE));
  });

  it('only the chair and the programme bridge have open microphones, and each hall is told its state', async () => {
    const s = await open();
    const halls = await joinHalls(s, HALLS);
    const mics = (b: string) => halls.get(b)!.sink.mics;
    expect(openMics(s)).to.deep.equal([PROVINCE]);
    expect([PROVINCE, DISTRICT, COMMUNE, COMMUNE_2].map(mics)).to.deep.equal([[true], [false], [false], [false]]);

    await Promise.all([s.setOnAir(DISTRICT), s.setOpenMicrophones([PROVINCE, DISTRICT])]);
    expect(openMics(s)).to.deep.equal([DISTRICT, PROVINCE]);
    expect(mics(DISTRICT)).to.deep.equal([false, true]);

    await Promise.all([s.setOnAir(COMMUNE), s.setOpenMicrophones([PROVINCE, COMMUNE])]);
    expect(openMics(s)).to.deep.equal([COMMUNE, PROVINCE]);
    expect(mics(DISTRICT)).to.deep.equal([false, true, false]);
    expect(mics(COMMUNE)).to.deep.equal([false, true]);
    expect(mics(PROVINCE), 'the chair is never closed').to.deep.equal([true]);
    expect(mics(COMMUNE_2)).to.deep.equal([false]);
  });

  it('a hall that publishes its microphone while not on programme starts closed', async () => {
    const s = await open();
    await joinHalls(s, [PROVINCE]);
    await Promise.all([s.setOnAir(DISTRICT), s.setOpenMicrophones([PROVINCE, DISTRICT])]); // d-178 is not here yet
    const late = await joinHall(s, COMMUNE);
    const district = await joinHall(s, DISTRICT);
    expect(late.sink.mics).to.deep.equal([false]);
    expect(district.sink.mics).to.deep.equal([true]);
    expect(openMics(s)).to.deep.equal([DISTRICT, PROVINCE]);
    // The programme reached the commune as soon as d-178 published.
    await eventuallyEqual('routing', () => routing(s), expectedRouting([PROVINCE, COMMUNE, DISTRICT], DISTRICT));
  });

  it('sendLayers: the programme and the chair send all layers (2), others only the low one (0); the previous speaker drops to 0', async () => {
    const s = await open();
    const halls = await joinHalls(s, HALLS);
    const layers = (b: string) => halls.get(b)!.sink.layers;
    expect([PROVINCE, DISTRICT, COMMUNE, COMMUNE_2].map(layers)).to.deep.equal([[2], [0], [0], [0]]);

    await s.setOnAir(DISTRICT);
    expect(layers(DISTRICT).at(-1)).to.equal(2);
    expect(layers(PROVINCE).at(-1)).to.equal(2);

    await s.setOnAir(COMMUNE);
    expect(layers(DISTRICT).at(-1), 'previous speaker').to.equal(0);
    expect(layers(COMMUNE).at(-1)).to.equal(2);
    expect(layers(PROVINCE).at(-1)).to.equal(2);
    expect(layers(COMMUNE_2), 'never on programme, never told again').to.deep.equal([0]);
  });

  it('micReport: closed microphones have no consumer and forward nothing; the chair microphone reaches every other hall', async () => {
    const s = await open();
    await joinHalls(s, HALLS);
    await Promise.all([s.setOnAir(DISTRICT), s.setOpenMicrophones([PROVINCE, DISTRICT])]);
    await eventuallyEqual('routing', () => routing(s), expectedRouting(HALLS, DISTRICT));
    const report = (await s.micReport()).sort((a, b) => a.bridgeId.localeCompare(b.bridgeId));
    expect(report.map((r) => ({ bridgeId: r.bridgeId, open: r.open, consumers: r.consumers }))).to.deep.equal([
      { bridgeId: COMMUNE, open: false, consumers: 0 },
      { bridgeId: COMMUNE_2, open: false, consumers: 0 },
      { bridgeId: DISTRICT, open: true, consumers: 3 },
      { bridgeId: PROVINCE, open: true, consumers: 3 },
    ]);
    // No RTP flows on unconnected transports.
    expect(report.every((r) => r.packetsReceived === 0 && r.packetsForwarded === 0)).to.equal(true);
  });

  it('a console with thumbnail permission receives the requested halls at spatial layer 0 and no programme', async () => {
    const s = await open();
    await joinHalls(s, HALLS);
    const technician = await joinConsole(s);
    s.setThumbnails(technician.peerId, [DISTRICT, COMMUNE, DISTRICT]);
    await eventuallyEqual('thumbnails', () => routing(s)[technician.peerId], [`thumb ${COMMUNE}/cam`, `thumb ${DISTRICT}/cam`]);
    const thumbs = s.snapshot().peers.find((p) => p.peerId === technician.peerId)!.consumers;
    expect(thumbs.map((c) => ({ kind: c.kind, layer: c.preferredSpatialLayer }))).to.deep.equal([
      { kind: 'video', layer: 0 },
      { kind: 'video', layer: 0 },
    ]);
    await eventuallyEqual('thumbnails resumed', () => pausedConsumers(s), []);

    // A new selection withdraws the halls no longer wanted.
    const districtThumb = consumerOf(s, technician.peerId, DISTRICT, 'cam')!;
    s.setThumbnails(technician.peerId, [COMMUNE, COMMUNE_2]);
    await eventuallyEqual('new thumbnails', () => routing(s)[technician.peerId], [`thumb ${COMMUNE_2}/cam`, `thumb ${COMMUNE}/cam`].sort());
    expect(technician.sink.closedConsumers).to.deep.equal([districtThumb]);
    // A console may not publish.
    expect(await codeOf(() => s.createTransport(technician.peerId, 'send'))).to.equal('not_allowed');
    expect(await codeOf(() => s.produce(technician.peerId, technician.recvTransportId!, 'audio', micParameters(), 'mic'))).to.equal('not_allowed');
  });

  it('the chair hall sees thumbnails beside the programme; a commune hall may not ask for them', async () => {
    const s = await open();
    await joinHalls(s, HALLS);
    const province = s.snapshot().peers.find((p) => p.bridgeId === PROVINCE)!.peerId;
    const commune = s.snapshot().peers.find((p) => p.bridgeId === COMMUNE)!.peerId;
    s.setThumbnails(province, [COMMUNE_2]);
    await eventuallyEqual('chair thumbnails', () => routing(s)[PROVINCE], [`thumb ${COMMUNE_2}/cam`]);
    expect(await codeOf(() => s.setThumbnails(commune, [DISTRICT]))).to.equal('not_allowed');
    expect(await codeOf(() => s.setThumbnails(province, [DISTRICT, 'c-99999']))).to.equal('unknown_bridge');
    expect(routing(s)[PROVINCE], 'a refused selection changes nothing').to.deep.equal([`thumb ${COMMUNE_2}/cam`]);
  });

  it('refuses bad requests with stable codes', async () => {
    const s = await open();
    const [province] = [...(await joinHalls(s, [PROVINCE])).values()] as [TestPeer];
    expect(await codeOf(() => s.join('x1', hallOptions('c-99999'), new RecordingSink()))).to.equal('unknown_bridge');
    expect(await codeOf(() => s.join('x2', { publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink()))).to.equal('not_allowed');
    expect(await codeOf(() => s.join(province.peerId, hallOptions(PROVINCE), new RecordingSink()))).to.equal('already_exists');
    expect(await codeOf(() => s.setOnAir('d-999'))).to.equal('unknown_bridge');
    expect(s.onAir, 'a refused switch changes nothing').to.equal(PROVINCE);
    expect(await codeOf(() => s.createTransport('nobody', 'recv'))).to.equal('unknown_peer');
    expect(await codeOf(() => s.produce(province.peerId, '00000000-0000-0000-0000-000000000000', 'audio', micParameters(), 'mic'))).to.equal('unknown_transport');
    expect(await codeOf(() => s.produce(province.peerId, province.sendTransportId!, 'video', micParameters(), 'mic'))).to.equal('invalid_rtp_parameters');
    expect(await codeOf(() => s.produce(province.peerId, province.recvTransportId!, 'video', camParameters(), 'cam'))).to.equal('invalid_state');
    expect(await codeOf(() => s.connectTransport(province.peerId, 'nope', { fingerprints: [] } as never))).to.equal('unknown_transport');
    // The failed attempts left the hall's publications as they were.
    expect(s.snapshot().peers[0]!.producers.map((p) => p.id).sort()).to.deep.equal([province.micId, province.camId].sort());
  });

  it('refuses a camera in a codec the routers do not offer (H264) with invalid_rtp_parameters', async () => {
    const s = await open();
    const peer: TestPeer = { peerId: 'h264-hall', bridgeId: COMMUNE, sink: new RecordingSink() };
    s.join(peer.peerId, hallOptions(COMMUNE), peer.sink);
    const send = await s.createTransport(peer.peerId, 'send');
    const h264 = { ...camParameters(), codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000 }] };
    expect(await codeOf(() => s.produce(peer.peerId, send.id, 'video', h264, 'cam'))).to.equal('invalid_rtp_parameters');
    expect(s.snapshot().peers[0]!.producers).to.deep.equal([]);
  });

  // Regression: produce() used to close the working producer before trying the new one.
  it('a rejected republish of the camera leaves the working camera in place', async () => {
    const s = await open();
    const halls = await joinHalls(s, [PROVINCE, DISTRICT]);
    const province = halls.get(PROVINCE)!;
    const h264 = { ...camParameters(), codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000 }] };
    expect(await codeOf(() => s.produce(province.peerId, province.sendTransportId!, 'video', h264, 'cam'))).to.equal('invalid_rtp_parameters');
    const producers = s.snapshot().peers.find((p) => p.bridgeId === PROVINCE)!.producers.map((p) => p.id);
    expect(producers.sort()).to.deep.equal([province.micId, province.camId].sort());
    await eventuallyEqual('d-178 still sees the chair', () => routing(s), expectedRouting([PROVINCE, DISTRICT], PROVINCE));
  });

  it('a second peer of the same hall replaces the first: its transports close and the halls consume the new one', async () => {
    const s = await open();
    const halls = await joinHalls(s, HALLS);
    const first = halls.get(PROVINCE)!;
    const oldCamAtCommune = consumerOf(s, COMMUNE, PROVINCE, 'cam')!;

    const second = await joinHall(s, PROVINCE);

    expect(s.peerIds()).to.not.include(first.peerId);
    expect(s.peerIds()).to.include(second.peerId);
    expect(first.sink.replacedCount, 'the replaced peer is told').to.equal(1);
    expect(second.sink.replacedCount).to.equal(0);
    const transports = (await Promise.all(s.routers().map(routerTransportIds))).flat();
    expect(transports).to.not.include(first.sendTransportId);
    expect(transports).to.not.include(first.recvTransportId);
    expect(transports).to.include.members([second.sendTransportId!, second.recvTransportId!]);
    expect(await codeOf(() => s.createTransport(first.peerId, 'recv'))).to.equal('unknown_peer');
    await eventuallyEqual('routing with the new chair peer', () => routing(s), expectedRouting(HALLS, PROVINCE));
    expect(halls.get(COMMUNE)!.sink.closedConsumers).to.include(oldCamAtCommune);
    const commune = s.snapshot().peers.find((p) => p.bridgeId === COMMUNE)!;
    expect(commune.consumers.map((c) => c.producerId).sort()).to.deep.equal([second.micId, second.camId].sort());
  });

  it('spreads 10 halls over both workers and pipes a producer only to workers where someone consumes it', async () => {
    const s = await open();
    const ten = BRIDGES.slice(0, 10);
    const halls = await joinHalls(s, ten);
    const snap = s.snapshot();
    const perWorker = [0, 1].map((w) => snap.peers.filter((p) => p.workerIndex === w).length);
    expect(perWorker[0]! + perWorker[1]!).to.equal(10);
    expect(Math.abs(perWorker[0]! - perWorker[1]!), `peers per worker ${perWorker}`).to.be.at.most(1);

    const chair = snap.peers.find((p) => p.bridgeId === PROVINCE)!;
    const other = 1 - chair.workerIndex;
    const chairCam = halls.get(PROVINCE)!.camId!;
    const chairMic = halls.get(PROVINCE)!.micId!;
    // Halls on the other worker consume the chair through a pipe.
    const remote = snap.peers.filter((p) => p.workerIndex === other);
    expect(remote.length).to.be.greaterThan(0);
    for (const p of remote) {
      expect(p.consumers.every((c) => c.workerIndex === other)).to.equal(true);
      expect(p.consumers.map((c) => c.producerId).sort()).to.deep.equal([chairCam, chairMic].sort());
    }
    const producersOnOther = await routerProducerIds(s.routers()[other]);
    expect(producersOnOther, 'pipe producers of the chair on the other worker').to.include.members([chairCam, chairMic]);
    const dump = (await s.routers()[other]!.dump()) as { mapProducerIdConsumerIds: Record<string, string[]> };
    expect(dump.mapProducerIdConsumerIds[chairCam]!.sort()).to.deep.equal(remote.map((p) => p.consumers.find((c) => c.source === 'cam')!.id).sort());
    // Nothing of a hall nobody receives (closed mic, camera off programme) is piped anywhere.
    const commune = halls.get(COMMUNE)!;
    const communeWorker = snap.peers.find((p) => p.bridgeId === COMMUNE)!.workerIndex;
    expect(await routerProducerIds(s.routers()[1 - communeWorker])).to.not.include.members([commune.micId!]);
    expect(await routerProducerIds(s.routers()[1 - communeWorker])).to.not.include.members([commune.camId!]);
    // Once it is on programme, its camera and microphone reach the other worker.
    await s.setOnAir(COMMUNE);
    await eventuallyEqual('routing', () => routing(s), expectedRouting(ten, COMMUNE));
    expect(await routerProducerIds(s.routers()[1 - communeWorker])).to.include.members([commune.micId!, commune.camId!]);
  });

  it('load accounting: each worker carries its peers plus their consumers, and nothing once the session closed', async () => {
    const s = await open();
    await joinHalls(s, HALLS);
    await joinConsole(s, { receiveOnAir: true });
    await s.setOnAir(DISTRICT);
    await eventuallyEqual('routing', () => routing(s), { ...expectedRouting(HALLS, DISTRICT), [s.peerIds().at(-1)!]: [`audio ${DISTRICT}/mic`, `audio ${PROVINCE}/mic`, `onair ${DISTRICT}/cam`] });
    const snap = s.snapshot();
    for (const w of snap.workers) {
      const placed = snap.peers.filter((p) => p.workerIndex === w.index);
      const expected = placed.length + placed.reduce((n, p) => n + p.consumers.length, 0);
      expect(w.load, `load of worker ${w.index}`).to.equal(expected);
    }
    s.close();
    expect(pool.slots.map((x) => x.load)).to.deep.equal([0, 0]);
  });

  it('leave() closes the peer with its transports and withdraws its media from the others', async () => {
    const s = await open();
    const halls = await joinHalls(s, HALLS);
    await s.setOnAir(DISTRICT);
    await eventuallyEqual('routing', () => routing(s), expectedRouting(HALLS, DISTRICT));
    const district = halls.get(DISTRICT)!;
    const districtCamAtCommune = consumerOf(s, COMMUNE, DISTRICT, 'cam')!;

    s.leave(district.peerId);
    s.leave(district.peerId); // again: nothing happens

    expect(s.peerIds()).to.not.include(district.peerId);
    const transports = (await Promise.all(s.routers().map(routerTransportIds))).flat();
    expect(transports).to.not.include(district.sendTransportId);
    expect(transports).to.not.include(district.recvTransportId);
    // Its producers go, and so do their pipe copies on the other worker (those close a moment later).
    const leftovers = async () => (await Promise.all(s.routers().map(routerProducerIds))).flat().filter((id) => id === district.camId || id === district.micId);
    await eventuallyEqual('no producer of d-178 on any router', leftovers, []);
    await eventuallyEqual('the others keep only the chair', () => routing(s), {
      [PROVINCE]: [],
      [COMMUNE]: [`audio ${PROVINCE}/mic`],
      [COMMUNE_2]: [`audio ${PROVINCE}/mic`],
    });
    expect(halls.get(COMMUNE)!.sink.closedConsumers).to.include(districtCamAtCommune);
    // When d-178 comes back it is on programme again.
    await joinHall(s, DISTRICT);
    await eventuallyEqual('routing after rejoin', () => routing(s), expectedRouting(HALLS, DISTRICT));
  });

  it('close() is idempotent: closes the routers, emits close once; later calls fail with session_closed', async () => {
    const s = await open();
    await joinHalls(s, [PROVINCE, COMMUNE]);
    const routers = [...s.routers()];
    let closes = 0;
    s.on('close', () => closes++);
    s.close();
    s.close();
    expect(closes).to.equal(1);
    expect(s.closed).to.equal(true);
    expect(routers.every((r) => r!.closed)).to.equal(true);
    expect(s.peerIds()).to.deep.equal([]);
    expect(await codeOf(() => s.setOnAir(DISTRICT))).to.equal('session_closed');
    expect(await codeOf(() => s.join('late', hallOptions(DISTRICT), new RecordingSink()))).to.equal('session_closed');
    expect(await codeOf(() => s.rtpCapabilities)).to.equal('invalid_state');
    // The workers are still there for other conferences.
    expect(pool.pids().every(alive)).to.equal(true);
  });

  it('setNext prepares paused consumers of the next speaker; setOnAir then only resumes them', async () => {
    const s = await open();
    const halls = await joinHalls(s, HALLS);
    await s.setNext(COMMUNE);
    expect(s.next).to.equal(COMMUNE);
    expect(halls.get(COMMUNE)!.sink.layers.at(-1)).to.equal(2);
    await eventuallyEqual('prepared consumers', () => routing(s)[COMMUNE_2], [`audio ${PROVINCE}/mic`, `next ${COMMUNE}/cam`, `next ${COMMUNE}/mic`, `onair ${PROVINCE}/cam`]);
    const prepared = consumerOf(s, COMMUNE_2, COMMUNE, 'cam')!;
    const preparedPaused = s.snapshot().peers.find((p) => p.bridgeId === COMMUNE_2)!.consumers.find((c) => c.id === prepared)!.paused;
    expect(preparedPaused).to.equal(true);

    await s.setOnAir(COMMUNE);
    await eventuallyEqual('routing', () => routing(s), expectedRouting(HALLS, COMMUNE));
    expect(s.next).to.equal(undefined);
    expect(consumerOf(s, COMMUNE_2, COMMUNE, 'cam'), 'same consumer, no renegotiation').to.equal(prepared);
    expect(halls.get(COMMUNE_2)!.sink.slotChanges).to.deep.include({ consumerId: prepared, slot: 'onair' });
    await eventuallyEqual('every consumer resumed', () => pausedConsumers(s), []);
  });

  // Regression: overlapping switches used to read stale `paused` states and leave a former
  // speaker's microphone open.
  it('two switches in quick succession leave open only the chair microphone and the last speaker', async () => {
    const s = await open();
    await joinHalls(s, HALLS);
    // As the host drives it: each switch, then the open microphones of the new state.
    const first = [s.setOnAir(DISTRICT), s.setOpenMicrophones([PROVINCE, DISTRICT])];
    const second = [s.setOnAir(COMMUNE), s.setOpenMicrophones([PROVINCE, COMMUNE])];
    await Promise.all([...first, ...second]);
    expect(s.onAir).to.equal(COMMUNE);
    await eventuallyEqual('routing', () => routing(s), expectedRouting(HALLS, COMMUNE));
    await eventuallyEqual('open microphones', () => openMics(s), [COMMUNE, PROVINCE]);
  });
  it("setContent routes one hall's shared screen (slot content) to every hall but itself; null takes it away", async () => {
    const s = await open();
    const halls = await joinHalls(s, HALLS);
    const commune = halls.get(COMMUNE)!;
    // The screen is a video track of the hall's own peer (one encoding: no simulcast for a screen).
    const screen = { ...camParameters(), mid: '2' };
    screen.encodings = [screen.encodings![0]!];
    await s.produce(commune.peerId, commune.sendTransportId!, 'video', screen, 'screen');
    const contentOf = (bridgeId: string) => halls.get(bridgeId)!.sink.consumes.filter((c) => c.source === 'screen');
    // Published but not shared: nobody receives it.
    expect(HALLS.flatMap(contentOf)).to.deep.equal([]);
    await s.setContent(COMMUNE);
    expect(s.content).to.equal(COMMUNE);
    await eventuallyEqual('every other hall receives the screen as the content', () => HALLS.filter((b) => contentOf(b).length > 0).sort(), [PROVINCE, DISTRICT, COMMUNE_2].sort());
    for (const b of [PROVINCE, DISTRICT, COMMUNE_2]) expect(contentOf(b)[0]).to.deep.include({ bridgeId: COMMUNE, slot: 'content', kind: 'video' });
    // The programme is untouched: the chair is still on air.
    const programme = Object.fromEntries(Object.entries(routing(s)).map(([k, v]) => [k, v.filter((l) => !l.startsWith('content '))]));
    expect(programme).to.deep.equal(expectedRouting(HALLS, PROVINCE));
    const ids = [PROVINCE, DISTRICT, COMMUNE_2].map((b) => contentOf(b)[0]!.consumerId);
    await s.setContent(null);
    await eventuallyEqual('the content consumers are closed', () => ids.filter((id) => [PROVINCE, DISTRICT, COMMUNE_2].some((b) => halls.get(b)!.sink.closedConsumers.includes(id))).length, 3);
    expect(await codeOf(() => s.setContent('x-0'))).to.equal('unknown_bridge');
  });

  it("a screen-only peer (the page where the person shares) publishes its hall's screen beside the hall's own peer; the newest replaces the older", async () => {
    const s = await open();
    const halls = await joinHalls(s, HALLS);
    const commune = halls.get(COMMUNE)!;
    const screenParameters = () => {
      const p = { ...camParameters(), mid: '0' };
      p.encodings = [p.encodings![0]!];
      return p;
    };
    const joinScreen = async (bridgeId: string, clientId: string): Promise<TestPeer> => {
      const peer: TestPeer = { peerId: `screen-${clientId}`, bridgeId, sink: new RecordingSink() };
      s.join(peer.peerId, { bridgeId, publish: true, receiveOnAir: false, thumbnails: false, screenOnly: true, clientId }, peer.sink);
      peer.sendTransportId = (await s.createTransport(peer.peerId, 'send')).id;
      return peer;
    };
    // Another page of the hall (another clientId) is not refused with bridge_in_use, and the hall's peer stays.
    const first = await joinScreen(COMMUNE, 'panel-1');
    expect(commune.sink.replacedCount).to.equal(0);
    expect(s.hasPeer(commune.peerId)).to.equal(true);
    // It publishes the screen only.
    expect(await codeOf(() => s.produce(first.peerId, first.sendTransportId!, 'video', camParameters(), 'cam'))).to.equal('not_allowed');
    expect(await codeOf(() => s.produce(first.peerId, first.sendTransportId!, 'audio', micParameters(), 'mic'))).to.equal('not_allowed');
    const firstScreen = (await s.produce(first.peerId, first.sendTransportId!, 'video', screenParameters(), 'screen')).id;
    // A console shares no screen: a screen peer needs a bridge.
    expect(await codeOf(() => s.join('screen-nobody', { publish: true, receiveOnAir: false, thumbnails: false, screenOnly: true }, new RecordingSink()))).to.equal('not_allowed');

    const contentOf = (bridgeId: string) => halls.get(bridgeId)!.sink.consumes.filter((c) => c.source === 'screen' && !halls.get(bridgeId)!.sink.closedConsumers.includes(c.consumerId));
    await s.setContent(COMMUNE);
    await eventuallyEqual('every other hall receives the screen peer\'s track', () => [PROVINCE, DISTRICT, COMMUNE_2].map((b) => contentOf(b).map((c) => c.producerId)), [[firstScreen], [firstScreen], [firstScreen]]);
    expect(contentOf(COMMUNE), 'not the sharing hall itself').to.deep.equal([]);
    // The hall's camera and microphone still reach the others (the screen peer did not take its place).
    await s.setOnAir(COMMUNE);
    await eventuallyEqual('the commune on air', () => consumerOf(s, DISTRICT, COMMUNE, 'cam') !== undefined, true);

    // A newer screen page of the same hall replaces the older one (its client is told).
    const second = await joinScreen(COMMUNE, 'panel-2');
    expect(first.sink.replacedCount).to.equal(1);
    expect(s.hasPeer(first.peerId)).to.equal(false);
    const secondScreen = (await s.produce(second.peerId, second.sendTransportId!, 'video', screenParameters(), 'screen')).id;
    await eventuallyEqual('every other hall receives the newer screen', () => [PROVINCE, DISTRICT, COMMUNE_2].map((b) => contentOf(b).map((c) => c.producerId)), [[secondScreen], [secondScreen], [secondScreen]]);
    // The screen page leaves: the content goes; the hall stays on air.
    s.leave(second.peerId);
    await eventuallyEqual('no content left', () => [PROVINCE, DISTRICT, COMMUNE_2].flatMap((b) => contentOf(b)), []);
    expect(s.hasPeer(commune.peerId)).to.equal(true);
    expect(commune.sink.replacedCount).to.equal(0);
  });
});

describe('MediaSession when a worker dies (SIGKILL)', function () {
  this.timeout(30_000);
  let pool: WorkerPool;
  let session: MediaSession;

  before(async () => {
    pool = await WorkerPool.create(await poolOptions(2));
    session = await MediaSession.create(pool, sessionOptions());
  });

  after(() => {
    session?.close();
    pool?.close();
  });

  it('reports the lost halls, tells them to restart, and after the rebuild they publish again and routing is restored', async () => {
    const halls = await joinHalls(session, [PROVINCE, DISTRICT, COMMUNE, COMMUNE_2, DISTRICT_2, 'c-05974']);
    const all = [...halls.keys()];
    await Promise.all([session.setOnAir(DISTRICT), session.setOpenMicrophones([PROVINCE, DISTRICT])]);
    await eventuallyEqual('routing before', () => routing(session), expectedRouting(all, DISTRICT));

    const victim = session.snapshot().peers.find((p) => p.bridgeId === DISTRICT)!.workerIndex;
    const lostHalls = session.snapshot().peers.filter((p) => p.workerIndex === victim).map((p) => p.bridgeId!).sort();
    const keptHalls = all.filter((b) => !lostHalls.includes(b));
    expect(lostHalls.length).to.be.greaterThan(0);
    expect(keptHalls.length).to.be.greaterThan(0);
    const lost = once(session, 'medialost') as Promise<[{ workerIndex: number; bridgeIds: string[] }]>;
    const rebuilt = once(session, 'mediarebuilt') as Promise<[{ workerIndex: number }]>;
    const victimPid = pool.slot(victim).worker.pid;

    process.kill(victimPid, 'SIGKILL');

    const [l] = await lost;
    expect(l.workerIndex).to.equal(victim);
    expect([...l.bridgeIds].sort()).to.deep.equal(lostHalls);
    for (const b of all) {
      expect(halls.get(b)!.sink.restarts, `restarts of ${b}`).to.deep.equal(lostHalls.includes(b) ? ['worker_died'] : []);
    }
    // Halls on the surviving worker lose what came from the dead one.
    const fromLost = () =>
      Object.fromEntries(
        keptHalls.map((b) => [b, routing(session)[b]!.filter((line) => lostHalls.some((h) => line.endsWith(` ${h}/cam`) || line.endsWith(` ${h}/mic`)))]),
      );
    await eventuallyEqual('no consumer of a dead producer', fromLost, Object.fromEntries(keptHalls.map((b) => [b, []])));
    const [r] = await rebuilt;
    expect(r.workerIndex).to.equal(victim);
    expect(alive(pool.slot(victim).worker.pid)).to.equal(true);
    expect(session.snapshot().workers.map((w) => w.hasRouter)).to.deep.equal([true, true]);

    // The lost halls publish again, as their browsers do on 'restart'.
    for (const b of lostHalls) await publish(session, halls.get(b)!);
    await eventuallyEqual('routing restored', () => routing(session), expectedRouting(all, DISTRICT));
    await eventuallyEqual('every consumer resumed', () => pausedConsumers(session), []);
    expect(openMics(session)).to.deep.equal([DISTRICT, PROVINCE]);
    const snap = session.snapshot();
    for (const w of snap.workers) {
      const placed = snap.peers.filter((p) => p.workerIndex === w.index);
      expect(w.load, `load of worker ${w.index}`).to.equal(placed.length + placed.reduce((n, p) => n + p.consumers.length, 0));
    }

    // New halls are placed on the replaced worker again.
    const late = await joinHall(session, 'c-05977');
    const lateWorker = session.snapshot().peers.find((p) => p.peerId === late.peerId)!.workerIndex;
    expect(lateWorker).to.equal(victim);
    await eventuallyEqual('routing with the late hall', () => routing(session), expectedRouting([...all, 'c-05977'], DISTRICT));
  });

});
