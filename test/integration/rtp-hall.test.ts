// A hardware hall (RtpHall) on real mediasoup workers, with synthetic RTP on loopback: what it
// receives of the programme (one video, one audio stream), its device ports through a worker's
// death, and its programme sent to the device's address.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { expect } from 'chai';
import { MediaSession, WorkerPool } from '../../sfu/index.ts';
import { RtpHall } from '../../server/app/rtp-halls/RtpHall.ts';
import type { DeviceSheet } from '../../server/app/rtp-halls/DeviceSheet.ts';
import type { Bridge } from '../../server/protocol/plan.ts';
import { COMMUNE, DISTRICT, PROVINCE, eventuallyEqual, joinHall, poolOptions, routing, waitFor } from './media-fixture.ts';

const HALL: Bridge = { id: COMMUNE, tier: 'commune', name: 'Phường Hoàng Văn Thụ', parentId: DISTRICT, code: '05971', kind: 'rtp' };
const AUDIO_PEER = `rtp:${COMMUNE}:programme-audio`;
const VIDEO_PEER = `rtp:${COMMUNE}`;

function rtp(ssrc: number, seq: number, payloadType: number): Buffer {
  const b = Buffer.alloc(12 + 60, 0);
  b[0] = 0x80;
  b[1] = payloadType & 0x7f;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE((seq * 960) >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  // An Opus TOC byte (a 20 ms SILK frame): mediasoup reads the payload of audio only for DTX.
  b[12] = 0x08;
  return b;
}

/** Sends `count` RTP packets as the device's microphone would, to the port of its sheet. */
async function sendMic(sheet: DeviceSheet, count: number, from: number): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  for (let i = 0; i < count; i++) {
    socket.send(rtp(sheet.send.audio.ssrc, from + i, sheet.send.audio.codec.payloadType), sheet.send.audio.port, sheet.send.ip);
    await new Promise((r) => setTimeout(r, 5));
  }
  socket.close();
}

describe('RtpHall: a hardware hall on 2 real workers (synthetic RTP on loopback)', function () {
  this.timeout(30_000);
  let pool: WorkerPool;
  let session: MediaSession | undefined;
  let hall: RtpHall | undefined;
  const sockets: dgram.Socket[] = [];

  before(async () => {
    pool = await WorkerPool.create(await poolOptions(2));
  });
  after(() => pool?.close());
  afterEach(() => {
    hall?.close();
    hall = undefined;
    session?.close();
    session = undefined;
    for (const s of sockets.splice(0)) s.close();
  });

  async function open(srtp: boolean): Promise<{ s: MediaSession; h: RtpHall }> {
    session = await MediaSession.create(pool, { conferenceId: 'rtp-hall', chairBridgeId: PROVINCE, bridgeIds: [PROVINCE, DISTRICT, COMMUNE], switchBatchMs: 100, consumeTimeoutMs: 2000 });
    hall = await RtpHall.create({ media: session, bridge: HALL, endpoint: { srtp, videoCodec: 'VP8' }, listenIp: '127.0.0.1' });
    return { s: session, h: hall };
  }

  it('receives one video and one audio stream of the programme: the speaker\'s, or the chair\'s when the chair or the hall itself speaks', async () => {
    const { s } = await open(false);
    await joinHall(s, PROVINCE);
    await joinHall(s, DISTRICT);
    // Both of the hall's peers carry its bridge id: pick them by peer id.
    const hallRouting = () => {
      const snap = s.snapshot().peers;
      const of = (peerId: string) => snap.find((p) => p.peerId === peerId)!.consumers.filter((c) => c.slot !== 'next').map((c) => `${c.kind} ${c.bridgeId}/${c.source}`).sort();
      return { video: of(VIDEO_PEER), audio: of(AUDIO_PEER) };
    };
    await s.setOnAir(DISTRICT);
    await eventuallyEqual('district speaks', hallRouting, { video: [`video ${DISTRICT}/cam`], audio: [`audio ${DISTRICT}/mic`] });
    await s.setOnAir(PROVINCE);
    await eventuallyEqual('the chair speaks', hallRouting, { video: [`video ${PROVINCE}/cam`], audio: [`audio ${PROVINCE}/mic`] });
    await s.setOnAir(COMMUNE);
    await eventuallyEqual('the hall itself speaks: it sees and hears the chair', hallRouting, { video: [`video ${PROVINCE}/cam`], audio: [`audio ${PROVINCE}/mic`] });
    // A browser hall still hears the speaker and the chair.
    expect(routing(s)[DISTRICT]).to.deep.equal([`audio ${COMMUNE}/mic`, `audio ${PROVINCE}/mic`, `onair ${COMMUNE}/cam`]);
  });

  it('keeps its device ports when its worker dies: the media behind them is rebuilt, the sheet gets a new version, and the device\'s packets count again', async () => {
    const { s, h } = await open(false);
    const before = h.sheet();
    expect(before.version).to.equal(0);
    await sendMic(before, 30, 1);
    await waitFor('packets accepted before', async () => ((await s.linkCounters(COMMUNE))?.up.packets ?? 0) >= 25, 3000, 50);

    const victim = s.snapshot().peers.find((p) => p.peerId === VIDEO_PEER)!.workerIndex;
    const sheetEvent = once(h, 'sheet') as Promise<[DeviceSheet]>;
    const replaced = once(pool, 'workerreplaced');
    process.kill(pool.slot(victim).worker.pid, 'SIGKILL');
    const [after] = await sheetEvent;
    expect(after.version).to.equal(1);
    expect([after.send.audio.port, after.send.video.port]).to.deep.equal([before.send.audio.port, before.send.video.port]);
    expect([after.send.audio.ssrc, after.send.video.ssrc]).to.deep.equal([before.send.audio.ssrc, before.send.video.ssrc]);
    expect(s.snapshot().peers.find((p) => p.peerId === VIDEO_PEER)!.producers.map((p) => p.source).sort()).to.deep.equal(['cam', 'mic']);
    // The device goes on sending to the same port; the new producers count its packets.
    await sendMic(after, 30, 31);
    await waitFor('packets accepted after the rebuild', async () => ((await s.linkCounters(COMMUNE))?.up.packets ?? 0) >= 25, 3000, 50);
    await replaced;
  });

  it('with SRTP: the device gets a key of its own, plain packets are not accepted, each programme stream has its own key', async () => {
    const { s, h } = await open(true);
    const sheet = h.sheet();
    expect(Buffer.from(sheet.send.srtp!.keyBase64, 'base64')).to.have.length(30);
    expect(sheet.receive.audio.srtp!.keyBase64).to.not.equal(sheet.receive.video.srtp!.keyBase64);
    expect(sheet.ffmpeg.send).to.contain(`-srtp_out_params ${sheet.send.srtp!.keyBase64}`);
    await sendMic(sheet, 20, 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.counters().packets.audio).to.equal(20);
    expect((await s.linkCounters(COMMUNE))!.up.packets).to.equal(0);
    // A new receive address remakes the receive transports: new programme keys, a new version.
    const next = await h.setReceiveAddress({ ip: '127.0.0.1', audioPort: 40_000, videoPort: 40_002 });
    expect(next.version).to.equal(1);
    expect(next.receive.video.srtp!.keyBase64).to.not.equal(sheet.receive.video.srtp!.keyBase64);
    expect(next.programmeSdp).to.contain(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 ${next.receive.video.srtp!.inline}`);
  });

  it('a plain-RTP device\'s microphone is accepted, and the programme reaches the device\'s address once given', async () => {
    const { s, h } = await open(false);
    await sendMic(h.sheet(), 30, 1);
    await waitFor('packets accepted by the hall\'s producers', async () => ((await s.linkCounters(COMMUNE))?.up.packets ?? 0) >= 25, 3000, 50);

    // The device receives the programme on two ports of this test; the chair speaks.
    const audioIn = dgram.createSocket('udp4');
    const videoIn = dgram.createSocket('udp4');
    sockets.push(audioIn, videoIn);
    await Promise.all([audioIn, videoIn].map((x) => new Promise<void>((r) => x.bind(0, '127.0.0.1', r))));
    const sheet = await h.setReceiveAddress({ ip: '127.0.0.1', audioPort: audioIn.address().port, videoPort: videoIn.address().port });
    expect(sheet.version).to.equal(1);
    expect(sheet.programmeSdp).to.match(new RegExp(`^m=audio ${audioIn.address().port} RTP/AVP ${sheet.receive.audio.codecs[0]!.payloadType}\\r$`, 'm'));
    expect(sheet.programmeSdp).to.match(/^a=rtpmap:\d+ VP8\/90000\r$/m).and.not.match(/a=crypto/);

    // The chair's hall: another hardware hall would do; a plain socket sends its microphone here.
    const chair = await RtpHall.create({ media: s, bridge: { ...HALL, id: PROVINCE, tier: 'province', parentId: null, code: '20', name: 'Tỉnh Lạng Sơn' }, endpoint: { srtp: false, videoCodec: 'VP8' }, listenIp: '127.0.0.1' });
    try {
      let got = 0;
      audioIn.on('message', (m) => {
        if ((m[1]! & 0x7f) === sheet.receive.audio.codecs[0]!.payloadType) got++;
      });
      await sendMic(chair.sheet(), 60, 1);
      await waitFor('the chair\'s audio at the device\'s audio port', () => got >= 40, 3000, 50);
    } finally {
      chair.close();
    }
  });

  it('asks the speaker for a keyframe every few seconds while the device receives the programme (devices that send no PLI)', async () => {
    session = await MediaSession.create(pool, { conferenceId: 'rtp-kf', chairBridgeId: PROVINCE, bridgeIds: [PROVINCE, DISTRICT, COMMUNE], switchBatchMs: 50 });
    const s = session;
    // Count the hall's requests (the SFU coalesces them before they reach the speaker).
    const asked: number[] = [];
    const request = s.requestKeyFrame.bind(s);
    s.requestKeyFrame = (peerId: string) => {
      if (peerId === VIDEO_PEER) asked.push(Date.now());
      return request(peerId);
    };
    hall = await RtpHall.create({ media: s, bridge: HALL, endpoint: { srtp: false, videoCodec: 'VP8' }, listenIp: '127.0.0.1', keyframeIntervalMs: 300 });
    await new Promise((r) => setTimeout(r, 700));
    expect(asked, 'no requests while the device\'s address is unknown').to.deep.equal([]);
    const videoIn = dgram.createSocket('udp4');
    sockets.push(videoIn);
    await new Promise<void>((r) => videoIn.bind(0, '127.0.0.1', r));
    await hall.setReceiveAddress({ ip: '127.0.0.1', audioPort: 40_010, videoPort: videoIn.address().port });

    // The speaker: another hardware hall whose "device" is a socket of this test, sending VP8 packets
    // and counting the keyframe requests (RTCP PLI, PT 206 FMT 1) the server sends back to it.
    const speaker = await RtpHall.create({ media: s, bridge: { ...HALL, id: DISTRICT, tier: 'district', parentId: PROVINCE, code: '178', name: 'Thành phố Lạng Sơn' }, endpoint: { srtp: false, videoCodec: 'VP8' }, listenIp: '127.0.0.1', keyframeIntervalMs: 0 });
    const device = dgram.createSocket('udp4');
    sockets.push(device);
    await new Promise<void>((r) => device.bind(0, '127.0.0.1', r));
    const pliTimes: number[] = [];
    device.on('message', (m) => {
      for (let off = 0; off + 4 <= m.length; off += (m.readUInt16BE(off + 2) + 1) * 4) {
        if (m[off + 1] === 206 && (m[off]! & 0x1f) === 1) pliTimes.push(Date.now());
      }
    });
    const v = speaker.sheet().send.video;
    let seq = 1;
    const pump = setInterval(() => {
      const packet = rtp(v.ssrc, seq++, v.codec.payloadType);
      packet.set([0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a], 12); // VP8: S=1, then a keyframe header
      device.send(packet, v.port, '127.0.0.1');
    }, 20);
    try {
      await s.setOnAir(DISTRICT);
      await waitFor('the device consumes the speaker\'s video', () => s.snapshot().peers.find((p) => p.peerId === VIDEO_PEER)!.consumers.some((c) => c.slot === 'onair' && c.bridgeId === DISTRICT), 3000, 50);
      await new Promise((r) => setTimeout(r, 800));
      const from = Date.now();
      await new Promise((r) => setTimeout(r, 2000));
      expect(asked.filter((t) => t >= from).length, 'requests every 300 ms').to.be.within(5, 8);
      // And they reach the speaker's device as RTCP PLI (mediasoup paces them: about one a second here).
      expect(pliTimes.filter((t) => t >= from).length).to.be.at.least(1);
    } finally {
      clearInterval(pump);
      speaker.close();
    }
  });

  it('an H264 room codec: the routers offer H264 after VP8 when asked; without it the hall is refused', async () => {
    session = await MediaSession.create(pool, { conferenceId: 'rtp-h264', chairBridgeId: PROVINCE, bridgeIds: [PROVINCE, DISTRICT, COMMUNE], offerH264: true });
    expect(session.rtpCapabilities.codecs!.filter((c) => c.kind === 'video' && !/rtx/.test(c.mimeType)).map((c) => c.mimeType)).to.deep.equal(['video/VP8', 'video/H264']);
    hall = await RtpHall.create({ media: session, bridge: HALL, endpoint: { srtp: false, videoCodec: 'H264' }, listenIp: '127.0.0.1' });
    const sheet = hall.sheet();
    expect(sheet.send.video.codec.name).to.equal('H264');
    expect(sheet.send.video.codec.fmtp).to.contain('packetization-mode=1').and.contain('profile-level-id=42e01f');
    expect(sheet.receive.video.codecs.map((c) => c.name), 'the device receives the video codec it sends').to.deep.equal(['H264']);
    expect(sheet.ffmpeg.send).to.contain('libx264');
    expect(session.snapshot().peers.find((p) => p.peerId === VIDEO_PEER)!.producers.map((p) => p.source).sort()).to.deep.equal(['cam', 'mic']);
    hall.close();
    session.close();

    session = await MediaSession.create(pool, { conferenceId: 'rtp-vp8', chairBridgeId: PROVINCE, bridgeIds: [PROVINCE, DISTRICT, COMMUNE] });
    const refused = await RtpHall.create({ media: session, bridge: HALL, endpoint: { srtp: false, videoCodec: 'H264' }, listenIp: '127.0.0.1' }).catch((e: unknown) => e);
    expect(refused).to.have.property('code', 'invalid_rtp_parameters');
    expect(session.peerIds(), 'a refused hall leaves nothing behind').to.deep.equal([]);
  });
});
