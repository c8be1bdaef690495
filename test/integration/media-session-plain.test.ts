// Plain RTP peers (hardware halls, encoders, load generators) on real mediasoup workers, with
// real UDP sockets on loopback.
import type dgram from 'node:dgram';
import { expect } from 'chai';
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
