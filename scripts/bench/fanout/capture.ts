/**
 * Forwarding latency at the wire: tcpdump on the loopback device records, with kernel
 * timestamps in nanoseconds, the speaker's packets arriving at the SFU and the same packets
 * leaving the SFU for the probe halls. On loopback the capture point is the sender's
 * transmit (dev_queue_xmit), so `out − in` is the time from the packet reaching the SFU's
 * socket to the SFU sending that copy: the SFU's receipt → send, without the harness's own
 * scheduling (which the probes' user-space receipt time includes).
 *
 * Packets are matched by the counter in the trailer the generator puts on the last packet of
 * every frame (the marker packet), which needs decrypting: the harness knows both keys.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { SrtpSession, isRtcp, type SrtpSuite } from './srtp.ts';
import { readTrailer } from './rtp.ts';

/** tcpdump is there and may capture (root or CAP_NET_RAW). */
export function wireCaptureAvailable(): boolean {
  const r = spawnSync('tcpdump', ['--version'], { stdio: 'ignore' });
  return r.status === 0 && (process.getuid?.() ?? 1) === 0;
}

export interface WireFlow {
  /** Destination UDP port of the flow on 127.0.0.1. */
  port: number;
  /** The master key (base64) the flow's sender encrypts with. */
  key: string;
  suite: SrtpSuite;
  direction: 'in' | 'out';
}

export class WireCapture {
  readonly #proc: ChildProcess;
  readonly #file: string;
  readonly #flows: WireFlow[];
  #stopped = false;

  private constructor(proc: ChildProcess, file: string, flows: WireFlow[]) {
    this.#proc = proc;
    this.#file = file;
    this.#flows = flows;
  }

  /** Starts tcpdump on lo for these flows; resolves once it is listening. */
  static async start(flows: WireFlow[], file: string): Promise<WireCapture> {
    const filter = `udp and (${flows.map((f) => `dst port ${f.port}`).join(' or ')})`;
    const proc = spawn('tcpdump', ['-i', 'lo', '-nn', '-U', '-s', '0', '-B', '65536', '--time-stamp-precision=nano', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
      proc.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump exited (${code}): ${err}`));
      });
    });
    return new WireCapture(proc, file, flows);
  }

  /** Stops the capture and returns the forwarding latencies (ms) of the matched packets. */
  async stop(): Promise<{ latencyMs: number[]; inMarked: number }> {
    if (!this.#stopped) {
      this.#stopped = true;
      const exited = new Promise((r) => this.#proc.once('exit', r));
      this.#proc.kill('SIGINT');
      await exited;
    }
    const result = matchFlows(fs.readFileSync(this.#file), this.#flows);
    fs.rmSync(this.#file, { force: true });
    return result;
  }

  /** Kills tcpdump if it still runs; idempotent. */
  close(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#proc.kill('SIGKILL');
    fs.rmSync(this.#file, { force: true });
  }
}

/** The UDP packets of a pcap file (Ethernet or Linux cooked captures) with their times in ns. */
export function* pcapUdp(file: Buffer): Generator<{ ns: bigint; dstPort: number; payload: Buffer }> {
  const magic = file.readUInt32LE(0);
  const le = magic === 0xa1b23c4d || magic === 0xa1b2c3d4;
  const read32 = (at: number): number => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  if (!nano && magic !== 0xa1b2c3d4 && magic !== 0xd4c3b2a1) throw new Error('not a pcap file');
  const linkType = read32(20);
  const linkLen = linkType === 1 ? 14 : linkType === 113 ? 16 : linkType === 0 ? 4 : -1;
  if (linkLen < 0) throw new Error(`pcap link type ${linkType} not handled`);
  for (let at = 24; at + 16 <= file.length; ) {
    const sec = read32(at);
    const frac = read32(at + 4);
    const caplen = read32(at + 8);
    const frame = file.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    if (frame.length < caplen) break;
    const ip = frame.subarray(linkLen);
    if (ip.length < 28 || ip[0]! >> 4 !== 4 || ip[9] !== 17) continue;
    const udp = ip.subarray((ip[0]! & 0x0f) * 4);
    yield { ns: BigInt(sec) * 1_000_000_000n + BigInt(nano ? frac : frac * 1000), dstPort: udp.readUInt16BE(2), payload: udp.subarray(8, udp.readUInt16BE(4)) };
  }
}

/**
 * Pairs the stamped packets leaving the SFU with their arrival: each `out` packet's latency is
 * its time minus the first time the same counter arrived `in` (a retransmission is not a sample).
 */
export function matchFlows(file: Buffer, flows: WireFlow[]): { latencyMs: number[]; inMarked: number } {
  const byPort = new Map(flows.map((f) => [f.port, { flow: f, session: new SrtpSession(f.key, f.suite), rocKnown: new Set<number>() }]));
  const arrived = new Map<number, bigint>();
  const seen = new Set<string>();
  const latencyMs: number[] = [];
  let inMarked = 0;
  for (const { ns, dstPort, payload } of pcapUdp(file)) {
    const f = byPort.get(dstPort);
    // The marker bit is in the clear: only the last packet of a frame carries a trailer.
    if (!f || payload.length < 12 || isRtcp(payload) || (payload[1]! & 0x80) === 0) continue;
    const trailer = decryptTrailer(f, payload);
    if (!trailer) continue;
    if (f.flow.direction === 'in') {
      inMarked++;
      if (!arrived.has(trailer.counter)) arrived.set(trailer.counter, ns);
      continue;
    }
    const key = `${dstPort}:${trailer.counter}`;
    const t0 = arrived.get(trailer.counter);
    if (t0 === undefined || seen.has(key)) continue;
    seen.add(key);
    latencyMs.push(Number(ns - t0) / 1e6);
  }
  return { latencyMs, inMarked };
}

/** Decrypts a packet and reads its trailer; finds the rollover counter of a stream seen mid-way. */
function decryptTrailer(f: { session: SrtpSession; rocKnown: Set<number> }, payload: Buffer): ReturnType<typeof readTrailer> {
  const ssrc = payload.readUInt32BE(8);
  const seq = payload.readUInt16BE(2);
  const plain = f.session.unprotectRtp(payload);
  const t = plain && readTrailer(plain);
  if (t || f.rocKnown.has(ssrc)) {
    if (t) f.rocKnown.add(ssrc);
    return t;
  }
  // The capture starts in the middle of the stream: its sequence numbers may have wrapped.
  for (let roc = 1; roc < 8; roc++) {
    f.session.setReceiveRoc(ssrc, roc, seq);
    const again = f.session.unprotectRtp(payload);
    const t2 = again && readTrailer(again);
    if (t2) {
      f.rocKnown.add(ssrc);
      return t2;
    }
  }
  f.session.setReceiveRoc(ssrc, 0, seq);
  return null;
}
