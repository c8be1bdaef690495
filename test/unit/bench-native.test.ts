// The harness's native helpers (scripts/bench/native: rtp-sink, rtp-gen) against the harness's
// TypeScript SRTP (checked against libsrtp through the worker in bench-srtp and the harness
// test): a Node socket plays the SFU's transport on loopback, encrypting what it sends and
// decrypting what the helpers send, for both suites.
import dgram from 'node:dgram';
import { expect } from 'chai';
import { NativeSink } from '../../scripts/bench/fanout/native-sink.ts';
import { NativeGenerator } from '../../scripts/bench/fanout/native-gen.ts';
import { SrtpSession, isRtcp, type SrtpSuite } from '../../scripts/bench/fanout/srtp.ts';
import { parseFeedback, genericNack, receiverReport } from '../../scripts/bench/fanout/rtp.ts';
import { senderReport } from '../../server/app/feed/rtp.ts';

async function udp(ip = '127.0.0.1', port = 0): Promise<{ socket: dgram.Socket; port: number; packets: Buffer[]; from: string[] }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(port, ip, r));
  const packets: Buffer[] = [];
  const from: string[] = [];
  socket.on('message', (m, rinfo) => {
    packets.push(m);
    from.push(rinfo.address);
  });
  return { socket, port: socket.address().port, packets, from };
}

/** Two sockets on two loopback addresses with the same port: two media nodes' transports (bench:cascade), as the helpers see them. */
async function samePortPair(): Promise<[Awaited<ReturnType<typeof udp>>, Awaited<ReturnType<typeof udp>>]> {
  for (let attempt = 0; ; attempt++) {
    const a = await udp('127.0.0.2');
    try {
      return [a, await udp('127.0.0.3', a.port)];
    } catch (error) {
      a.socket.close();
      if (attempt >= 5) throw error;
    }
  }
}

const until = async (what: string, check: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** Asks `get` until its answer passes `ok`; returns that answer. */
async function eventually<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A VP8 RTP packet: descriptor with PictureID; `key` starts a keyframe; `trailer` stamps it. */
function vp8(seq: number, ssrc: number, opts: { key?: boolean; start?: boolean; marker?: boolean; trailer?: { counter: number; ns: bigint } } = {}): Buffer {
  const body = Buffer.alloc(200, 0x55);
  body[0] = opts.key ? 0x10 : 0x11; // VP8 payload header: P bit clear on a keyframe
  const p = Buffer.alloc(12 + 4 + body.length + (opts.trailer ? 16 : 0));
  p[0] = 0x80;
  p[1] = (opts.marker ? 0x80 : 0) | 101;
  p.writeUInt16BE(seq, 2);
  p.writeUInt32BE(90000, 4);
  p.writeUInt32BE(ssrc, 8);
  p[12] = 0x80 | (opts.start ?? opts.key ? 0x10 : 0); // X, S
  p[13] = 0x80; // I
  p[14] = 0x80;
  p[15] = 0x01; // 15-bit PictureID
  body.copy(p, 16);
  if (opts.trailer) {
    const at = 16 + body.length;
    p.writeUInt32BE(0x44434231, at);
    p.writeUInt32BE(opts.trailer.counter, at + 4);
    p.writeBigUInt64BE(opts.trailer.ns, at + 8);
  }
  return p;
}

for (const suite of ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80'] as SrtpSuite[]) {
  describe(`bench native rtp-sink (${suite})`, function () {
    this.timeout(30_000);

    it('counts and NACKs from clear headers, stamps latency on probes, reports LSR, and tells a keyframe start', async () => {
      const sink = new NativeSink();
      const sfu = [await udp(), await udp()];
      try {
        await sink.videoPayloadTypes([101]);
        const ports = await sink.bind([{ id: 'hall-a', group: 'halls', probe: true }, { id: 'hall-b', group: 'halls', probe: false }]);
        const keys = ['hall-a', 'hall-b'].map((receiver, i) => ({ receiver, myKey: SrtpSession.randomKey(suite), sfuKey: SrtpSession.randomKey(suite), suite, sfuIp: '127.0.0.1', sfuPort: sfu[i]!.port }));
        await sink.keys(keys);
        await sink.mark();
        const t0 = Date.now();
        for (const [i, k] of keys.entries()) {
          const tx = new SrtpSession(k.sfuKey, suite);
          const send = (p: Buffer): void => void sfu[i]!.socket.send(p, ports[k.receiver]!, '127.0.0.1');
          // 65533, 65534, 65535, 0 [1 and 2 lost] 3: across a wrap, with a gap of two
          for (const seq of [65533, 65534, 65535, 0, 3]) send(tx.protectRtp(vp8(seq, 0x1111, { key: seq === 65533, marker: seq === 3, trailer: seq === 3 ? { counter: 7, ns: process.hrtime.bigint() } : undefined })));
          send(tx.protectRtcp(senderReport(0x1111, Date.now(), 90000, 1, 100)));
        }
        await until('NACKs at both transports', () => sfu.every((s) => s.packets.some(isRtcp)));
        for (const [i, k] of keys.entries()) {
          const rx = new SrtpSession(k.myKey, suite);
          const fb = sfu[i]!.packets.map((p) => rx.unprotectRtcp(p)).filter((p): p is Buffer => p !== null).map(parseFeedback);
          expect(fb.flatMap((f) => f.nack), `NACK at ${k.receiver}`).to.deep.include({ ssrc: 0x1111, seqs: [1, 2] });
        }
        const r = await sink.report();
        expect(r.groups.halls).to.deep.include({ receivers: 2, packets: 10, expected: 14, lost: 4 });
        expect(r.nacksSent).to.equal(2);
        expect(r.latencyUs, 'one stamped packet on the probe').to.have.length(1);
        expect(r.latencyUs[0]).to.be.within(0, 2_000_000);
        expect(r.socketDrops).to.equal(0);
        const starts = await sink.streamStarts(t0 - 1);
        expect(starts.map((s) => [s.receiver, s.ssrc, s.key])).to.have.deep.members([['hall-a', 0x1111, 1], ['hall-b', 0x1111, 1]]);
        // The next receiver report (every second) carries the LSR of the sender report.
        sfu.forEach((s) => (s.packets.length = 0));
        await until('a receiver report', () => sfu[0]!.packets.length > 0, 2500);
        const rr = new SrtpSession(keys[0]!.myKey, suite).unprotectRtcp(sfu[0]!.packets[0]!)!;
        expect(rr[1]).to.equal(201);
        expect(rr.readUInt32BE(8), 'report block SSRC').to.equal(0x1111);
        expect(rr.readUInt32BE(8 + 8), 'extended highest sequence number').to.equal(0x10003);
        expect(rr.readUInt32BE(8 + 16), 'LSR').to.not.equal(0);
      } finally {
        await sink.close();
        sfu.forEach((s) => s.socket.close());
      }
    });
  });

  describe(`bench native rtp-gen (${suite})`, function () {
    this.timeout(60_000);

    it('sends SRTP a browser would (VP8 starting on a keyframe, Opus, sender reports), answers a PLI at once and a NACK on RTX', async () => {
      const sfu = await udp();
      const gen = new NativeGenerator();
      const myKey = SrtpSession.randomKey(suite);
      const sfuKey = SrtpSession.randomKey(suite);
      try {
        await gen.addHalls([{ id: 'bench:d-178', ip: '127.0.0.1', port: sfu.port, myKey, sfuKey, suite, mic: { ssrc: 10, pt: 111 }, cam: { ssrcs: [11, 12, 13], pt: 96, rtxSsrcs: [15, 16, 17], rtxPt: 97 }, maxLayer: 0 }]);
        const rx = new SrtpSession(myKey, suite);
        const rtp = (): Buffer[] => sfu.packets.filter((p) => !isRtcp(p)).map((p) => rx.unprotectRtp(p, true)!);
        await until('a second of media', () => rtp().filter((p) => p.readUInt32BE(8) === 10).length >= 40, 5000);
        const video = rtp().filter((p) => p.readUInt32BE(8) === 11);
        expect(video.length).to.be.greaterThan(10);
        expect(rtp().every((p) => p !== null), 'every packet authenticates').to.equal(true);
        expect(video[0]![12]! & 0x10, 'the first packet starts a frame').to.equal(0x10);
        expect(video[0]![18]! & 0x01, 'and the frame is a keyframe').to.equal(0);
        expect(rtp().some((p) => p.readUInt32BE(8) === 12), 'no layer 1 while told to send layer 0 only').to.equal(false);
        await until('a sender report', () => sfu.packets.some(isRtcp), 2500);
        const srs = sfu.packets.filter(isRtcp).map((p) => rx.unprotectRtcp(p)).filter((p): p is Buffer => p !== null);
        expect(srs.length, 'sender reports').to.be.greaterThan(0);
        expect(parseFeedback(srs[0]!).sr).to.equal(2);

        // A PLI on layer 0: a keyframe leaves at once, not at the next frame.
        const tx = new SrtpSession(sfuKey, suite);
        const before = sfu.packets.length;
        const pli = Buffer.alloc(12);
        pli[0] = 0x81;
        pli[1] = 206;
        pli.writeUInt16BE(2, 2);
        pli.writeUInt32BE(1, 4);
        pli.writeUInt32BE(11, 8);
        const sentAt = Date.now();
        sfu.socket.send(tx.protectRtcp(Buffer.concat([receiverReport(1, []), pli])), (await gen.stats()).ports[0]!, '127.0.0.1');
        await until('the keyframe', () => (sfu.packets.slice(before).filter((p) => !isRtcp(p)).map((p) => rx.unprotectRtp(p)!).some((p) => p.readUInt32BE(8) === 11 && (p[12]! & 0x10) && !(p[18]! & 1))));
        const log = (await gen.stats()).keyframeLog.filter((k) => k.hall === 'bench:d-178');
        expect(log).to.have.length(1);
        expect(log[0]!.sentAt - log[0]!.at, 'request → keyframe sent').to.be.within(0, 25);
        expect(log[0]!.at).to.be.within(sentAt - 5, sentAt + 1000);

        // A NACK for a packet sent (more than the 20 ms a packet is not sent again within): it
        // comes back on the RTX stream with its original sequence number.
        await new Promise((r) => setTimeout(r, 60));
        const orig = rtp().filter((p) => p.readUInt32BE(8) === 11).at(-3)!;
        const seq = orig.readUInt16BE(2);
        const nBefore = sfu.packets.length;
        sfu.socket.send(tx.protectRtcp(Buffer.concat([receiverReport(1, []), genericNack(1, 11, [seq])])), (await gen.stats()).ports[0]!, '127.0.0.1');
        await until('the retransmission', () => sfu.packets.slice(nBefore).filter((p) => !isRtcp(p)).some((p) => p.readUInt32BE(8) === 15));
        const rtx = sfu.packets.slice(nBefore).filter((p) => !isRtcp(p) && p.readUInt32BE(8) === 15).map((p) => rx.unprotectRtp(p, true)!)[0]!;
        expect(rtx[1]! & 0x7f).to.equal(97);
        expect(rtx.readUInt16BE(12), 'original sequence number').to.equal(seq);
        expect(rtx.subarray(14).equals(orig.subarray(12)), 'original payload').to.equal(true);
        const s = await gen.stats();
        expect(s.nacked).to.equal(1);
        expect(s.lateP99Ms).to.be.below(1000);
      } finally {
        await gen.close();
        sfu.socket.close();
      }
    });
  });
}

describe('bench native helpers across media nodes (bench:cascade)', function () {
  this.timeout(30_000);
  const suite: SrtpSuite = 'AEAD_AES_128_GCM';

  it('rtp-sink tells transports apart by address and port, follows a receiver keyed again, and times the first packet of a new stream after a watch', async () => {
    const sink = new NativeSink();
    // Two nodes whose transports send from the same port; a third transport where hall-a moves.
    const [x, y] = await samePortPair();
    const z = await udp('127.0.0.4');
    try {
      await sink.videoPayloadTypes([101]);
      // One shared socket: both receivers are told apart by where their transports send from.
      await sink.shareSockets(1);
      const ports = await sink.bind([{ id: 'hall-a', group: 'a', probe: false }, { id: 'hall-b', group: 'b', probe: false }]);
      const keyA = { receiver: 'hall-a', myKey: SrtpSession.randomKey(suite), sfuKey: SrtpSession.randomKey(suite), suite, sfuIp: '127.0.0.2', sfuPort: x.port };
      const keyB = { receiver: 'hall-b', myKey: SrtpSession.randomKey(suite), sfuKey: SrtpSession.randomKey(suite), suite, sfuIp: '127.0.0.3', sfuPort: y.port };
      await sink.keys([keyA, keyB]);
      await sink.mark();
      const txA = new SrtpSession(keyA.sfuKey, suite);
      const txB = new SrtpSession(keyB.sfuKey, suite);
      for (let seq = 100; seq < 103; seq++) x.socket.send(txA.protectRtp(vp8(seq, 0xa1, { key: seq === 100 })), ports['hall-a']!, '127.0.0.1');
      // hall-b's stream, a gap in it: hall-b's NACK goes to its own transport, with its own key.
      for (const seq of [200, 201, 204]) y.socket.send(txB.protectRtp(vp8(seq, 0xb1, { key: seq === 200 })), ports['hall-b']!, '127.0.0.1');
      await until('the NACK of hall-b', () => y.packets.some(isRtcp));
      const nack = y.packets.filter(isRtcp).map((p) => new SrtpSession(keyB.myKey, suite).unprotectRtcp(p)).filter((p): p is Buffer => p !== null).map(parseFeedback);
      expect(nack.flatMap((f) => f.nack)).to.deep.include({ ssrc: 0xb1, seqs: [202, 203] });
      let r = await sink.report();
      expect(r.groups.a, 'hall-a: its own stream only').to.deep.include({ receivers: 1, packets: 3, lost: 0 });
      expect(r.groups.b, 'hall-b: its own stream only').to.deep.include({ receivers: 1, packets: 3, lost: 2 });
      expect(r.unmapped).to.equal(0);

      // Before a watch there is nothing to tell; after it, a stream seen before is not new.
      await sink.watch();
      x.socket.send(txA.protectRtp(vp8(103, 0xa1)), ports['hall-a']!, '127.0.0.1');
      await new Promise((res) => setTimeout(res, 100));
      expect(await sink.arrivals()).to.deep.equal({ 'hall-a': null, 'hall-b': null });

      // hall-a moves to z (its node was lost): new keys, a new consumer (SSRC).
      const moved = { ...keyA, myKey: SrtpSession.randomKey(suite), sfuKey: SrtpSession.randomKey(suite), sfuIp: '127.0.0.4', sfuPort: z.port };
      await sink.keys([moved]);
      const txZ = new SrtpSession(moved.sfuKey, suite);
      const sentAt = Date.now();
      z.socket.send(txZ.protectRtp(vp8(500, 0xa2, { key: true })), ports['hall-a']!, '127.0.0.1');
      const arrivals = await eventually('hall-a\'s new stream', () => sink.arrivals(), (a) => a['hall-a'] != null);
      expect(arrivals['hall-a'], 'the kernel receive time of the new stream\'s first packet (epoch ms)').to.be.within(sentAt - 5, sentAt + 1000);
      expect(arrivals['hall-b']).to.equal(null);
      // The old transport's packets are no longer hall-a's; the new one's are, NACKed to z with the new key.
      x.socket.send(txA.protectRtp(vp8(104, 0xa1)), ports['hall-a']!, '127.0.0.1');
      for (const seq of [501, 503]) z.socket.send(txZ.protectRtp(vp8(seq, 0xa2)), ports['hall-a']!, '127.0.0.1');
      await until('the NACK of hall-a at its new transport', () => z.packets.some(isRtcp));
      const nackZ = z.packets.filter(isRtcp).map((p) => new SrtpSession(moved.myKey, suite).unprotectRtcp(p)).filter((p): p is Buffer => p !== null).map(parseFeedback);
      expect(nackZ.flatMap((f) => f.nack)).to.deep.include({ ssrc: 0xa2, seqs: [502] });
      r = await sink.report();
      expect(r.unmapped, 'the old transport\'s packet').to.equal(1);
    } finally {
      await sink.close();
      for (const s of [x, y, z]) s.socket.close();
    }
  });

  it('rtp-sink and rtp-gen bind to the address they are given (the root namespace\'s bridge address in bench:cascade)', async () => {
    const sink = new NativeSink(undefined, { bindIp: '127.0.0.5' });
    const gen = new NativeGenerator({ bindIp: '127.0.0.6' });
    const sfu = await udp();
    try {
      await sink.videoPayloadTypes([101]);
      const ports = await sink.bind([{ id: 'hall', group: 'halls', probe: false }]);
      const key = { receiver: 'hall', myKey: SrtpSession.randomKey(suite), sfuKey: SrtpSession.randomKey(suite), suite, sfuIp: '127.0.0.1', sfuPort: sfu.port };
      await sink.keys([key]);
      await sink.mark();
      sfu.socket.send(new SrtpSession(key.sfuKey, suite).protectRtp(vp8(1, 0x77, { key: true })), ports.hall!, '127.0.0.5');
      const r = await eventually('the packet at 127.0.0.5', () => sink.report(), (x) => (x.groups.halls?.packets ?? 0) > 0);
      expect(r.groups.halls!.packets).to.equal(1);
      await gen.addHalls([{ id: 'bench:h', ip: '127.0.0.1', port: sfu.port, myKey: SrtpSession.randomKey(suite), sfuKey: SrtpSession.randomKey(suite), suite, mic: { ssrc: 10, pt: 111 }, cam: { ssrcs: [11, 12, 13], pt: 96, rtxSsrcs: [15, 16, 17], rtxPt: 97 }, maxLayer: 0 }]);
      await until('media from the generator', () => sfu.packets.some((p) => !isRtcp(p)));
      expect([...new Set(sfu.from)]).to.deep.equal(['127.0.0.6']);
    } finally {
      await Promise.all([sink.close(), gen.close()]);
      sfu.socket.close();
    }
  });

  it('rtp-gen moves a hall added again to its new transport: new keys, a keyframe first, RTCP told apart by address and port', async () => {
    const [x, y] = await samePortPair();
    const gen = new NativeGenerator();
    const hall = (id: string, base: number, at: typeof x, ip: string) => ({ id, ip, port: at.port, myKey: SrtpSession.randomKey(suite), sfuKey: SrtpSession.randomKey(suite), suite, mic: { ssrc: base, pt: 111 }, cam: { ssrcs: [base + 1, base + 2, base + 3], pt: 96, rtxSsrcs: [base + 5, base + 6, base + 7], rtxPt: 97 }, maxLayer: 0 });
    const first = hall('bench:c-1', 20, x, '127.0.0.2');
    const media = (at: typeof x, ssrcs: number[]): Buffer[] => at.packets.filter((p) => !isRtcp(p) && ssrcs.includes(p.readUInt32BE(8)));
    const c1 = [20, 21, 22, 23, 25, 26, 27];
    try {
      await gen.addHalls([first]);
      await until('c-1 at the first node', () => media(x, c1).length > 20);
      // c-1 moves to the other node (same port, other address); c-2 comes to the first node's port.
      const moved = hall('bench:c-1', 20, y, '127.0.0.3');
      await gen.addHalls([moved]);
      const second = hall('bench:c-2', 30, x, '127.0.0.2');
      await gen.addHalls([second]);
      await until('c-1 at the new node', () => media(y, c1).length > 20);
      await new Promise((res) => setTimeout(res, 100));
      const atX = media(x, c1).length;
      await new Promise((res) => setTimeout(res, 300));
      expect(media(x, c1).length - atX, 'nothing more of c-1 to its old transport').to.equal(0);
      const rx = new SrtpSession(moved.myKey, suite);
      const plain = media(y, c1).map((p) => rx.unprotectRtp(p, true));
      expect(plain.every((p) => p !== null), 'every packet authenticates with the new key').to.equal(true);
      const video = (plain as Buffer[]).filter((p) => p.readUInt32BE(8) === 21);
      expect(video[0]![12]! & 0x10, 'the first packet at the new node starts a frame').to.equal(0x10);
      expect(video[0]![18]! & 0x01, 'a keyframe').to.equal(0);
      // Each transport's PLI reaches its own hall though both send from the same port.
      const pli = (key: string, ssrc: number): Buffer => {
        const b = Buffer.alloc(12);
        b[0] = 0x81;
        b[1] = 206;
        b.writeUInt16BE(2, 2);
        b.writeUInt32BE(1, 4);
        b.writeUInt32BE(ssrc, 8);
        return new SrtpSession(key, suite).protectRtcp(Buffer.concat([receiverReport(1, []), b]));
      };
      const genPort = (await gen.stats()).ports[0]!;
      y.socket.send(pli(moved.sfuKey, 21), genPort, '127.0.0.1');
      x.socket.send(pli(second.sfuKey, 31), genPort, '127.0.0.1');
      const s = await eventually('both PLIs counted', () => gen.stats(), (v) => (v.keyframeRequests['bench:c-1'] ?? 0) > 0 && (v.keyframeRequests['bench:c-2'] ?? 0) > 0);
      expect(s.keyframeRequests).to.deep.equal({ 'bench:c-1': 1, 'bench:c-2': 1 });
    } finally {
      await gen.close();
      x.socket.close();
      y.socket.close();
    }
  });
});
