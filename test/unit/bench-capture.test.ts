// The fan-out bench's wire latency (scripts/bench/fanout/capture.ts): pcap parsing and the
// matching of a stamped packet into the SFU with its copies out, on a pcap file written here
// (the same layout tcpdump writes on lo: nanosecond pcap, Ethernet link type).
import { expect } from 'chai';
import { matchFlows, pcapUdp, type WireFlow } from '../../scripts/bench/fanout/capture.ts';
import { SrtpSession, type SrtpSuite } from '../../scripts/bench/fanout/srtp.ts';
import { Vp8Packetizer } from '../../scripts/bench/fanout/rtp.ts';

const SUITE: SrtpSuite = 'AEAD_AES_128_GCM';

function pcap(records: { ns: bigint; dstPort: number; payload: Buffer }[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b23c4d, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20);
  const parts = [head];
  for (const r of records) {
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip[9] = 17;
    ip.writeUInt16BE(20 + 8 + r.payload.length, 2);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(40000, 0);
    udp.writeUInt16BE(r.dstPort, 2);
    udp.writeUInt16BE(8 + r.payload.length, 4);
    const frame = Buffer.concat([eth, ip, udp, r.payload]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Number(r.ns / 1_000_000_000n), 0);
    rec.writeUInt32LE(Number(r.ns % 1_000_000_000n), 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  }
  return Buffer.concat(parts);
}

describe('bench:fanout wire latency (pcap matching)', () => {
  it('reads UDP records with nanosecond times', () => {
    const file = pcap([{ ns: 1_700_000_000_123_456_789n, dstPort: 5004, payload: Buffer.from('hello') }]);
    const [r] = [...pcapUdp(file)];
    expect(r!.ns).to.equal(1_700_000_000_123_456_789n);
    expect(r!.dstPort).to.equal(5004);
    expect(r!.payload.toString()).to.equal('hello');
  });

  it('pairs each stamped packet into the SFU with its copy to each probe, over a sequence wrap seen mid-way', () => {
    const inKey = SrtpSession.randomKey(SUITE);
    const outKeys = [SrtpSession.randomKey(SUITE), SrtpSession.randomKey(SUITE)];
    const flows: WireFlow[] = [
      { port: 6000, key: inKey, suite: SUITE, direction: 'in' },
      { port: 7001, key: outKeys[0]!, suite: SUITE, direction: 'out' },
      { port: 7002, key: outKeys[1]!, suite: SUITE, direction: 'out' },
    ];
    // The sender has wrapped its sequence numbers before the capture starts (rollover counter 1).
    const tx = new SrtpSession(inKey, SUITE);
    const pk = new Vp8Packetizer(0x1234, 96);
    pk.seq = 0xfff0;
    for (let i = 0; i < 20; i++) tx.protectRtp(pk.packetize(Buffer.alloc(100, i), i * 3000).packets[0]!);
    const sfu = outKeys.map((k) => ({ tx: new SrtpSession(k, SUITE), pk: new Vp8Packetizer(0x9000 + outKeys.indexOf(k), 96) }));
    const records: { ns: bigint; dstPort: number; payload: Buffer }[] = [];
    let t = 5_000_000_000n;
    for (let frame = 0; frame < 5; frame++) {
      const { packets, stampAt } = pk.packetize(Buffer.alloc(2500, frame), 90_000 + frame * 3000, { counter: 100 + frame });
      for (const [i, p] of packets.entries()) {
        t += 1_000n;
        records.push({ ns: t, dstPort: 6000, payload: tx.protectRtp(p) });
        if (i !== stampAt) continue;
        // The SFU's copies: same payload (trailer included) under its own SSRC, sequence and key,
        // 2 ms and 3 ms after the arrival; the second probe's copy is also retransmitted later.
        for (const [j, o] of sfu.entries()) {
          const copy = Buffer.from(p);
          copy.writeUInt32BE(o.pk.ssrc, 8);
          copy.writeUInt16BE(o.pk.seq++ & 0xffff, 2);
          records.push({ ns: t + BigInt(2 + j) * 1_000_000n, dstPort: 7001 + j, payload: o.tx.protectRtp(copy) });
          if (j === 1 && frame === 2) records.push({ ns: t + 50_000_000n, dstPort: 7002, payload: o.tx.protectRtp(copy) });
        }
      }
    }
    records.sort((a, b) => (a.ns < b.ns ? -1 : 1));
    const m = matchFlows(pcap(records), flows);
    expect(m.inMarked).to.equal(5);
    expect(m.latencyMs).to.have.length(10);
    expect(m.latencyMs.filter((x) => Math.abs(x - 2) < 1e-9)).to.have.length(5);
    expect(m.latencyMs.filter((x) => Math.abs(x - 3) < 1e-9)).to.have.length(5);
  });
});
