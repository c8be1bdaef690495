// The worker's SRTP packet by packet, on a real mediasoup worker (the build of
// scripts/build-worker.sh) with real UDP on loopback: a plain-RTP producer and consumer over
// SRTP, the speaker's packets encrypted and the worker's copies decrypted by an independent
// implementation (Node's crypto: the bench harness's SrtpSession). Every packet the worker
// forwards must authenticate and carry the payload sent, for both suites the project uses.
// It guards the worker's libsrtp patches (the AES-GCM IV set without re-initialising the
// cipher, the tag read from the provider): a wrong IV or tag fails every packet after the first.
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { expect } from 'chai';
import type { types as ms } from 'mediasoup';
import { bareWorker } from '../helpers/server.ts';
import { SrtpSession, isRtcp, rtpHeaderLength, type SrtpSuite } from '../../scripts/bench/fanout/srtp.ts';

const PACKETS = 300;
const SSRC = 0x1234_5678;

function rtp(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = 111;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE((seq * 960) >>> 0, 4);
  h.writeUInt32BE(SSRC, 8);
  return Buffer.concat([h, payload]);
}

async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mediasoup worker SRTP: every forwarded packet authenticates at an independent receiver (real worker, UDP on loopback)', function () {
  this.timeout(30_000);
  let worker: ms.Worker;
  const sockets: dgram.Socket[] = [];

  before(async () => {
    worker = await bareWorker();
  });
  after(() => {
    for (const s of sockets) s.close();
    worker?.close();
  });

  for (const suite of ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80'] as SrtpSuite[]) {
    it(`${suite}: ${PACKETS} packets of varied sizes in, ${PACKETS} out, each decrypted with the payload sent`, async () => {
      const router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
      const listenIp = { ip: '127.0.0.1' };
      const inT = await router.createPlainTransport({ listenIp, rtcpMux: true, comedia: true, enableSrtp: true, srtpCryptoSuite: suite });
      const outT = await router.createPlainTransport({ listenIp, rtcpMux: true, comedia: false, enableSrtp: true, srtpCryptoSuite: suite });
      const speaker = await udpSocket();
      const receiver = await udpSocket();
      sockets.push(speaker, receiver);
      const speakerKey = SrtpSession.randomKey(suite);
      await inT.connect({ srtpParameters: { cryptoSuite: suite, keyBase64: speakerKey } });
      await outT.connect({ ip: '127.0.0.1', port: receiver.address().port, srtpParameters: { cryptoSuite: suite, keyBase64: SrtpSession.randomKey(suite) } });
      const producer = await inT.produce({
        kind: 'audio',
        rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: SSRC }] },
      });
      const consumer = await outT.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: false });

      const rx = new SrtpSession(outT.srtpParameters!.keyBase64, suite);
      const received: { seq: number; payload: Buffer | null }[] = [];
      receiver.on('message', (m: Buffer) => {
        if (isRtcp(m)) return;
        const clear = rx.unprotectRtp(m, true);
        received.push({ seq: m.readUInt16BE(2), payload: clear ? clear.subarray(rtpHeaderLength(clear)) : null });
      });

      const tx = new SrtpSession(speakerKey, suite);
      const sent: Buffer[] = [];
      for (let i = 0; i < PACKETS; i++) {
        // sizes from 1 to 1,180 bytes: whole and partial AES blocks, one block to many
        const payload = crypto.randomBytes(1 + ((i * 397) % 1180));
        sent.push(payload);
        speaker.send(tx.protectRtp(rtp(1000 + i, payload)), inT.tuple.localPort, '127.0.0.1');
        if (i % 20 === 19) await sleep(5);
      }
      const deadline = Date.now() + 10_000;
      while (received.length < PACKETS && Date.now() < deadline) await sleep(20);

      expect(received.length, 'packets the worker forwarded').to.equal(PACKETS);
      const failed = received.filter((r) => r.payload === null).length;
      expect(failed, 'packets that did not authenticate').to.equal(0);
      // in order on loopback: the consumer's sequence numbers follow the speaker's one for one
      const first = received[0]!.seq;
      received.forEach((r, i) => {
        expect(r.seq, `packet ${i}`).to.equal((first + i) & 0xffff);
        expect(r.payload!.equals(sent[i]!), `payload of packet ${i}`).to.equal(true);
      });
      expect((await consumer.getStats()).find((s) => s.type === 'outbound-rtp')?.packetCount).to.equal(PACKETS);
      router.close();
    });
  }
});
