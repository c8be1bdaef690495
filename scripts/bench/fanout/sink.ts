/**
 * A receiving side of bench:fanout (a child process): one UDP socket per receiving peer, each
 * the far end of an SRTP plain transport of the SFU. Counts packets and losses from the clear
 * RTP headers, sends receiver reports every second and NACKs for gaps as browsers do (SRTCP),
 * and, on probe sockets, decrypts the stamped packets to measure the time from the generator's
 * send to this receipt.
 */
import dgram from 'node:dgram';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { genericNack, parseSenderReports, readTrailer, receiverReport, type ReportBlock } from './rtp.ts';
import { SrtpSession, isRtcp } from './srtp.ts';
import type { SinkGroupStats, SinkReceiver, SinkReport, SinkRequest } from './protocol.ts';

interface Stream {
  ssrc: number;
  video: boolean;
  cycles: number;
  highest: number;
  firstExt: number;
  /** Window counters. */
  winBaseExt: number;
  winReceived: number;
  winOctets: number;
  /** For receiver reports. */
  received: number;
  lastRrExpected: number;
  lastRrReceived: number;
  lsr: number;
  lsrAt: number;
}

interface Receiver {
  spec: SinkReceiver;
  socket: dgram.Socket;
  ssrc: number;
  tx?: SrtpSession;
  rx?: SrtpSession;
  sfuIp?: string;
  sfuPort?: number;
  streams: Map<number, Stream>;
  /** Since the last 'watch': the streams seen before it, and the first video packet of another one (Date.now()). */
  watch?: { known: Set<number>; firstNewAt: number | null };
}

const receivers = new Map<string, Receiver>();
const lag = monitorEventLoopDelay({ resolution: 10 });
let latencyUs: number[] = [];
let nacksSent = 0;
let reporting: NodeJS.Timeout | undefined;
let windowStart = process.hrtime.bigint();
/** Video payload types (NACKed when a gap shows); the orchestrator's router uses 101 for VP8. */
const VIDEO_PTS = new Set((process.env.DIEMCAU_BENCH_VIDEO_PTS ?? '101').split(',').map(Number));

function sendRtcp(r: Receiver, packet: Buffer): void {
  if (!r.tx || r.sfuPort === undefined) return;
  r.socket.send(r.tx.protectRtcp(packet), r.sfuPort, r.sfuIp);
}

function onRtp(r: Receiver, m: Buffer): void {
  const ssrc = m.readUInt32BE(8);
  const seq = m.readUInt16BE(2);
  let s = r.streams.get(ssrc);
  if (!s) {
    s = { ssrc, video: VIDEO_PTS.has(m[1]! & 0x7f), cycles: 0, highest: seq, firstExt: seq, winBaseExt: seq, winReceived: 0, winOctets: 0, received: 0, lastRrExpected: 0, lastRrReceived: 0, lsr: 0, lsrAt: 0 };
    r.streams.set(ssrc, s);
  } else {
    const delta = (seq - s.highest) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (seq < s.highest) s.cycles += 0x10000;
      if (delta > 1 && delta <= 64 && s.video) {
        const lost: number[] = [];
        for (let k = 1; k < delta; k++) lost.push((s.highest + k) & 0xffff);
        sendRtcp(r, Buffer.concat([receiverReport(r.ssrc, []), genericNack(r.ssrc, ssrc, lost)]));
        nacksSent++;
      }
      s.highest = seq;
    }
  }
  if (r.watch && r.watch.firstNewAt === null && s.video && !r.watch.known.has(ssrc)) r.watch.firstNewAt = Date.now();
  s.received++;
  s.winReceived++;
  s.winOctets += m.length;
  // The programme's stamped packets end a frame (marker bit).
  if (r.spec.probe && r.rx && m[1]! & 0x80) {
    const now = process.hrtime.bigint();
    const plain = r.rx.unprotectRtp(m);
    const t = plain && readTrailer(plain);
    if (t) latencyUs.push(Number(now - t.sentNs) / 1000);
  }
}

function onRtcp(r: Receiver, m: Buffer): void {
  const plain = r.rx?.unprotectRtcp(m);
  if (!plain) return;
  for (const sr of parseSenderReports(plain)) {
    const s = r.streams.get(sr.ssrc);
    if (s) {
      s.lsr = sr.lsr;
      s.lsrAt = Date.now();
    }
  }
}

function sendReports(): void {
  const now = Date.now();
  for (const r of receivers.values()) {
    const blocks: ReportBlock[] = [];
    for (const s of r.streams.values()) {
      const ext = s.cycles + s.highest;
      const expected = ext - s.firstExt + 1;
      const expectedInterval = expected - s.lastRrExpected;
      const receivedInterval = s.received - s.lastRrReceived;
      const lostInterval = Math.max(0, expectedInterval - receivedInterval);
      s.lastRrExpected = expected;
      s.lastRrReceived = s.received;
      blocks.push({
        ssrc: s.ssrc,
        fractionLost: expectedInterval > 0 ? Math.floor((lostInterval * 256) / expectedInterval) : 0,
        cumulativeLost: Math.max(0, expected - s.received),
        extHighestSeq: ext,
        jitter: 0,
        lsr: s.lsr,
        dlsr: s.lsrAt ? Math.floor(((now - s.lsrAt) / 1000) * 65536) : 0,
      });
    }
    if (blocks.length) sendRtcp(r, receiverReport(r.ssrc, blocks));
  }
}

function mark(): void {
  windowStart = process.hrtime.bigint();
  latencyUs = [];
  lag.reset();
  for (const r of receivers.values()) {
    for (const s of r.streams.values()) {
      s.winBaseExt = s.cycles + s.highest + 1;
      s.winReceived = 0;
      s.winOctets = 0;
    }
  }
}

function report(): SinkReport {
  const groups: Record<string, SinkGroupStats> = {};
  for (const r of receivers.values()) {
    const g = (groups[r.spec.group] ??= { receivers: 0, packets: 0, octets: 0, expected: 0, lost: 0 });
    g.receivers++;
    for (const s of r.streams.values()) {
      // A stream that started inside the window counts from its first packet.
      const base = Math.max(s.winBaseExt, s.firstExt);
      const expected = Math.max(0, s.cycles + s.highest - base + 1);
      g.packets += s.winReceived;
      g.octets += s.winOctets;
      g.expected += Math.max(expected, s.winReceived);
      g.lost += Math.max(0, expected - s.winReceived);
    }
  }
  return {
    seconds: Number(process.hrtime.bigint() - windowStart) / 1e9,
    groups,
    latencyUs,
    nacksSent,
    loopDelayP99Ms: lag.percentile(99) / 1e6,
    loopDelayMaxMs: lag.max / 1e6,
  };
}

process.on('message', (raw) => {
  const msg = raw as SinkRequest;
  void (async () => {
    switch (msg.type) {
      case 'bind': {
        const ports: Record<string, number> = {};
        for (const spec of msg.receivers) {
          const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 21 });
          // DIEMCAU_BENCH_BIND_IP: the address the SFU reaches us at (bench:cascade's nodes are other hosts).
          await new Promise<void>((res) => socket.bind(0, process.env.DIEMCAU_BENCH_BIND_IP ?? '127.0.0.1', res));
          const r: Receiver = { spec, socket, ssrc: Math.floor(Math.random() * 2 ** 32), streams: new Map() };
          socket.on('message', (m) => (isRtcp(m) ? onRtcp(r, m) : onRtp(r, m)));
          receivers.set(spec.id, r);
          ports[spec.id] = socket.address().port;
        }
        process.send!({ type: 'ports', id: msg.id, ports });
        break;
      }
      case 'keys':
        for (const k of msg.keys) {
          const r = receivers.get(k.receiver);
          if (!r) continue;
          r.tx = new SrtpSession(k.myKey, k.suite);
          r.rx = new SrtpSession(k.sfuKey, k.suite);
          r.sfuIp = k.sfuIp;
          r.sfuPort = k.sfuPort;
        }
        if (!reporting) {
          reporting = setInterval(sendReports, 1000);
          lag.enable();
        }
        process.send!({ type: 'ok', id: msg.id });
        break;
      case 'mark':
        mark();
        process.send!({ type: 'ok', id: msg.id });
        break;
      case 'watch': {
        // Streams seen before count as old whatever their gap: a sink that read late would
        // otherwise take its own backlog (the old node's last packets) for a new stream.
        for (const r of receivers.values()) r.watch = { known: new Set(r.streams.keys()), firstNewAt: null };
        process.send!({ type: 'ok', id: msg.id });
        break;
      }
      case 'arrivals':
        process.send!({ type: 'arrivals', id: msg.id, arrivals: Object.fromEntries([...receivers].map(([id, r]) => [id, r.watch?.firstNewAt ?? null])) });
        break;
      case 'report':
        process.send!({ type: 'report', id: msg.id, report: report() });
        break;
      case 'stop':
        for (const r of receivers.values()) r.socket.close();
        process.send!({ type: 'ok', id: msg.id }, () => process.exit(0));
        break;
    }
  })();
});
process.on('disconnect', () => process.exit(0));
