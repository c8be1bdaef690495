// Plain RTP peers (hardware halls, encoders, load generators) on real mediasoup workers, with
// real UDP sockets on loopback.
import type dgram from 'node:dgram';
import { expect } from 'chai';
import type { types as ms } from 'mediasoup';
import { MediaSession, WorkerPool, SfuError } from '../../sfu/index.ts';
import { COMMUNE, DISTRICT, PROVINCE, RecordingSink, micParameters, poolOptions, waitFor } from './media-fixture.ts';
import { rtpPacket as rtp, udpSocket } from '../helpers/synthetic-rtp.ts';

function sessionOptions() {
  return { conferenceId: 'plain', chairBridgeId: PROVINCE, bridgeIds: [PROVINCE, DISTRICT, COMMUNE], switchBatchMs: 100, consumeTimeoutMs: 2000 };
}

describe('MediaSession: plain RTP peers on 2 real workers (real UDP on loopback)', function () {
  this.timeout(20_000);
  let pool: WorkerPool;
  let session: MediaSession | undefined;
  const sockets: dgram.Socket[] = [];

  before(async () => {
    pool = await WorkerPool.create(await poolOptions(2));
  });
  after(() => pool?.close());
  afterEach(() => {
    session?.close();
    session = undefined;
    for (const s of sockets.splice(0)) s.close();
  });

  it('a plain peer publishes its microphone over RTP and another plain peer receives it as the programme audio', async () => {
    session = await MediaSession.create(pool, sessionOptions());
    const s = session;
    const senderSocket = await udpSocket();
    const receiverSocket = await udpSocket();
    sockets.push(senderSocket, receiverSocket);

    s.join('hw', { bridgeId: COMMUNE, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    const up = await s.createPlainTransport('hw', 'send', { comedia: true });
    expect(up.ip).to.equal('127.0.0.1');
    expect(up.port).to.be.greaterThan(0);
    expect(up.srtpParameters).to.equal(undefined);
    const params = micParameters();
    const ssrc = params.encodings![0]!.ssrc!;
    await s.produce('hw', up.id, 'audio', params, 'mic');

    const sink = new RecordingSink();
    s.join('dist', { bridgeId: DISTRICT, publish: true, receiveOnAir: true, thumbnails: false }, sink);
    s.setRtpCapabilities('dist', s.rtpCapabilities);
    const down = await s.createPlainTransport('dist', 'both', { comedia: false });
    const address = receiverSocket.address();
    await s.connectPlainTransport('dist', down.id, { ip: address.address, port: address.port });
    await Promise.all([s.setOnAir(COMMUNE), s.setOpenMicrophones([PROVINCE, COMMUNE])]);
    await waitFor('the district consumes the commune microphone', () => sink.consumes.find((c) => c.bridgeId === COMMUNE && c.source === 'mic'));

    let received = 0;
    const outSsrcs = new Set<number>();
    receiverSocket.on('message', (m) => {
      if (m.length >= 12 && !(m[1]! >= 192 && m[1]! <= 223)) {
        // RTP, not RTCP (RFC 5761)
        received++;
        outSsrcs.add(m.readUInt32BE(8));
      }
    });
    for (let seq = 1; seq <= 60; seq++) {
      senderSocket.send(rtp(ssrc, seq, 111), up.port, up.ip);
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor('packets forwarded to the district', () => received >= 50, 3000);
    const consumerSsrc = sink.consumes.find((c) => c.source === 'mic' && c.bridgeId === COMMUNE)!.rtpParameters.encodings![0]!.ssrc!;
    expect([...outSsrcs]).to.include(consumerSsrc);

    const counters = await s.linkCounters(COMMUNE);
    expect(counters?.iceState).to.equal('connected');
    expect(counters!.up.packets).to.be.at.least(50);
  });

  it('a receive transport remade while a consumer is being made on it (the remake timed into the consume request by wrapping the transport\'s consume): the consumer is made on the new transport and runs', async () => {
    // A hardware hall's device gets a new address (PUT /rtp-halls/:id/receive) right after a
    // grant: its receive transports are remade while the switch's consumers are still being made.
    // mediasoup closes a transport's consumers when it closes, but a consumer whose worker answer
    // comes after that is handed out open: it was held paused, on a transport gone in the worker,
    // never resumed, and never made again (the whole-suite flake of rtp-hall.e2e, issue s26).
    session = await MediaSession.create(pool, sessionOptions());
    const s = session;
    const deviceIn = await udpSocket();
    const oldAddress = await udpSocket();
    const newAddress = await udpSocket();
    sockets.push(deviceIn, oldAddress, newAddress);

    s.join('hw', { bridgeId: COMMUNE, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    const up = await s.createPlainTransport('hw', 'send', { comedia: true });
    const params = micParameters();
    await s.produce('hw', up.id, 'audio', params, 'mic');
    await s.setOpenMicrophones([PROVINCE, COMMUNE]);

    // The receive-only audio peer of another hardware hall, as RtpHall makes it.
    const peerId = 'rtp:d-180:programme-audio';
    s.join(peerId, { bridgeId: DISTRICT, publish: false, receiveOnAir: true, thumbnails: false, singleAudio: true }, new RecordingSink());
    s.setRtpCapabilities(peerId, s.rtpCapabilities);
    const transports = new Map<string, ms.Transport>();
    for (const router of s.routers()) router?.observer.on('newtransport', (t: ms.Transport) => transports.set(t.id, t));
    const first = await s.createPlainTransport(peerId, 'recv', { comedia: false });
    await s.connectPlainTransport(peerId, first.id, { ip: '127.0.0.1', port: oldAddress.address().port });
    const firstTransport = transports.get(first.id)!;
    let remade: Promise<{ id: string }> | undefined;
    const consume = firstTransport.consume.bind(firstTransport);
    firstTransport.consume = ((options: ms.ConsumerOptions) => {
      const made = consume(options); // the request is on its way to the worker
      remade ??= s.createPlainTransport(peerId, 'recv', { comedia: false }); // closes this transport at once
      return made;
    }) as typeof firstTransport.consume;

    await s.setOnAir(COMMUNE);
    expect(remade, 'the consume request was made on the first transport').to.not.equal(undefined);
    const second = await remade!;
    expect(firstTransport.closed).to.equal(true);
    await s.connectPlainTransport(peerId, second.id, { ip: '127.0.0.1', port: newAddress.address().port });
    const secondTransport = transports.get(second.id)!;

    const consumerState = (): string => JSON.stringify(s.snapshot().peers.find((p) => p.peerId === peerId)?.consumers);
    // The worker's own word on what the new transport carries.
    const onNewTransport = async (): Promise<string[]> => ((await secondTransport.dump()) as { consumerIds: string[] }).consumerIds;
    await waitFor('a running consumer of the commune microphone on the new transport', async () => {
      const held = s.snapshot().peers.find((p) => p.peerId === peerId)?.consumers.filter((c) => c.bridgeId === COMMUNE && c.source === 'mic') ?? [];
      return held.length === 1 && !held[0]!.paused && (await onNewTransport()).includes(held[0]!.id);
    }, 3000).catch(async (error: Error) => {
      throw new Error(`${error.message}; held: ${consumerState()}; on the new transport: ${JSON.stringify(await onNewTransport())}`);
    });

    // And the microphone's packets reach the device's new address.
    let received = 0;
    newAddress.on('message', (m) => {
      if (m.length >= 12 && !(m[1]! >= 192 && m[1]! <= 223)) received++;
    });
    const ssrc = params.encodings![0]!.ssrc!;
    for (let seq = 1; seq <= 40; seq++) {
      deviceIn.send(rtp(ssrc, seq, 111), up.port, up.ip);
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor('the microphone\'s packets at the new address', () => received >= 30, 3000).catch((error: Error) => {
      throw new Error(`${error.message} (${received} packets); held: ${consumerState()}`);
    });
  });

  it('with SRTP the transport hands out its key; a plain transport refuses DTLS and a WebRTC one refuses a plain connect', async () => {
    session = await MediaSession.create(pool, sessionOptions());
    const s = session;
    s.join('hw', { bridgeId: COMMUNE, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    const t = await s.createPlainTransport('hw', 'both', { comedia: true, srtpCryptoSuite: 'AES_CM_128_HMAC_SHA1_80' });
    expect(t.srtpParameters?.cryptoSuite).to.equal('AES_CM_128_HMAC_SHA1_80');
    expect(Buffer.from(t.srtpParameters!.keyBase64, 'base64')).to.have.length(30);
    expect((await s.linkCounters(COMMUNE))?.iceState).to.equal('new');
    const refused = await s.connectTransport('hw', t.id, { role: 'client', fingerprints: [] }).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(SfuError).with.property('code', 'invalid_state');
    s.join('chair', { bridgeId: PROVINCE, publish: true, receiveOnAir: true, thumbnails: true }, new RecordingSink());
    const w = await s.createTransport('chair', 'recv');
    const refused2 = await s.connectPlainTransport('chair', w.id, { ip: '127.0.0.1', port: 9 }).catch((e: unknown) => e);
    expect(refused2).to.be.instanceOf(SfuError).with.property('code', 'invalid_state');
  });

  it('a peer that may not publish gets no send-capable plain transport', async () => {
    session = await MediaSession.create(pool, sessionOptions());
    session.join('wall', { publish: false, receiveOnAir: false, thumbnails: true }, new RecordingSink());
    const refused = await session.createPlainTransport('wall', 'both', { comedia: false }).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(SfuError).with.property('code', 'not_allowed');
    const recv = await session.createPlainTransport('wall', 'recv', { comedia: false });
    expect(recv.port).to.be.greaterThan(0);
  });
});
