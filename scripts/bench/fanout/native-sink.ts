/**
 * The native receiving side of the fan-out harness (scripts/bench/native/rtp-sink.c) seen from
 * Node: starts the binary (built by scripts/setup.sh; built here if missing), speaks its
 * line protocol, and returns reports in the shape of the Node sink's (protocol.ts).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineProcess } from './line-process.ts';
import type { SinkGroupStats } from './protocol.ts';
import type { SrtpSuite } from './srtp.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The directory of the built helpers (builds them once if the sources changed since setup). */
export function nativeDir(): string {
  return execFileSync('bash', [path.join(here, '../native/build.sh')], { encoding: 'utf8' }).trim();
}

/** The sink's binary. */
export function nativeSinkBinary(): string {
  return path.join(nativeDir(), 'rtp-sink');
}

export interface NativeSinkReport {
  seconds: number;
  groups: Record<string, SinkGroupStats>;
  latencyUs: number[];
  nacksSent: number;
  rtcpSent: number;
  sendErrors: number;
  /** Datagrams the kernel dropped at this sink's sockets in the window (SO_RXQ_OVFL). */
  socketDrops: number;
  packetsTotal: number;
  batchesTotal: number;
  /** Packets from a source port no receiver is keyed for yet (before its keys came). */
  unmapped: number;
  sockets: number;
  /** Kernel receive → read by the sink, over the window's packets (µs). */
  readDelayUs: { n: number; p50: number; p99: number; p999: number; max: number };
  cpuSeconds: number;
}

/** The first packet of a stream at a receiver (or the first after 200 ms of silence). */
export interface StreamStart {
  receiver: string;
  ssrc: number;
  /** Kernel receive time, ms since the epoch (CLOCK_REALTIME, µs resolution). */
  atMs: number;
  pt: number;
  /** 1: the packet starts a VP8 keyframe; 0: it does not; -1: unknown (not video or no key). */
  key: number;
}

export class NativeSink {
  readonly proc: ChildProcess;
  readonly #helper: LineProcess;

  /** `bindIp`: the address the SFU reaches the sink at (bench:cascade's nodes are other hosts); loopback by default. */
  constructor(binary = nativeSinkBinary(), options: { bindIp?: string } = {}) {
    this.#helper = new LineProcess('rtp-sink', binary, [], options.bindIp ? { DIEMCAU_BENCH_BIND_IP: options.bindIp } : {});
    this.proc = this.#helper.proc;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Binds one socket per receiver; returns their local ports. */
  async bind(receivers: { id: string; group: string; probe: boolean }[]): Promise<Record<string, number>> {
    const ports: Record<string, number> = {};
    await Promise.all(receivers.map(async (r) => {
      if (/\s/.test(r.id) || /\s/.test(r.group)) throw new Error(`rtp-sink: names without spaces only (${r.id})`);
      const m = await this.#helper.request<{ port: number }>(`bind ${r.id} ${r.group} ${r.probe ? 1 : 0}`);
      if (m.port <= 0) throw new Error(`rtp-sink: could not bind ${r.id}`);
      ports[r.id] = m.port;
    }));
    return ports;
  }

  /** The receivers' keys and the SFU's addresses (a receiver keyed again has moved there); starts the receiver reports. */
  async keys(keys: { receiver: string; myKey: string; sfuKey: string; suite: SrtpSuite; sfuIp: string; sfuPort: number }[]): Promise<void> {
    const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');
    await Promise.all(keys.map(async (k) => {
      const m = await this.#helper.request<{ ok: boolean }>(`key ${k.receiver} ${k.suite === 'AEAD_AES_128_GCM' ? 'gcm' : 'cm'} ${hex(k.myKey)} ${hex(k.sfuKey)} ${k.sfuIp} ${k.sfuPort}`);
      if (!m.ok) throw new Error(`rtp-sink: keys of ${k.receiver} refused`);
    }));
    await this.#helper.request('start');
  }

  /**
   * How many sockets the non-probe receivers share (told apart by the SFU's source port); 0: one
   * socket per receiver. Before the first bind.
   */
  async shareSockets(count: number): Promise<void> {
    await this.#helper.request(`shared ${count}`);
  }

  async videoPayloadTypes(pts: number[]): Promise<void> {
    await this.#helper.request(`videopts ${pts.join(',')}`);
  }

  /** Decrypt every RTP packet (only to measure what decryption costs; the harness does not). */
  async decryptAll(on: boolean): Promise<void> {
    await this.#helper.request(`decryptall ${on ? 1 : 0}`);
  }

  async mark(): Promise<void> {
    await this.#helper.request('mark');
  }

  async report(): Promise<NativeSinkReport> {
    return this.#helper.request<NativeSinkReport>('report');
  }

  /** Streams that started (or resumed after silence) at or after `sinceMs` (epoch ms). */
  async streamStarts(sinceMs: number): Promise<StreamStart[]> {
    return (await this.#helper.request<{ events: StreamStart[] }>(`events ${sinceMs.toFixed(3)}`)).events;
  }

  /** From now, notes each receiver's first video packet of a stream it never had before (a new speaker, a hall back after a failover). */
  async watch(): Promise<void> {
    await this.#helper.request('watch');
  }

  /** Per receiver, the kernel receive time (epoch ms) of that packet since the last watch, or null. */
  async arrivals(): Promise<Record<string, number | null>> {
    return (await this.#helper.request<{ arrivals: Record<string, number | null> }>('arrivals')).arrivals;
  }

  /** Packets received so far on the streams of these SSRCs (all receivers together). */
  async received(ssrcs: number[]): Promise<number> {
    return (await this.#helper.request<{ received: number }>(`received ${ssrcs.join(',')}`)).received;
  }

  /** Stops the helper; idempotent. */
  close(): Promise<void> {
    return this.#helper.close();
  }
}
