/**
 * The two sides of the synthetic load, behind one interface each, in two implementations:
 *  - native (default): rtp-gen and rtp-sink (scripts/bench/native), two C processes that read
 *    RTP headers only, batch with sendmmsg/recvmmsg and measure their own headroom
 *    (SO_RXQ_OVFL drops, SO_TIMESTAMPNS read delay, schedule lateness);
 *  - node: generator.ts and sink.ts (plus a probe sink), the first harness, kept to measure the
 *    difference (`--harness node`) and as the reference the native code was checked against.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeGenerator } from './native-gen.ts';
import { NativeSink, type StreamStart } from './native-sink.ts';
import type { GeneratorHall, GeneratorStats, SinkReceiver, SinkReport } from './protocol.ts';
import type { SrtpSuite } from './srtp.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** native: rtp-gen + rtp-sink; node: generator.ts + sink.ts; node-gen: generator.ts + rtp-sink (the step between, measured). */
export type HarnessImpl = 'native' | 'node' | 'node-gen';

/** Generator stats with its headroom (null where the implementation cannot measure it). */
export interface GeneratorSideStats extends GeneratorStats {
  socketDrops: number | null;
  /** When the first packet of each requested keyframe left (native only; epoch ms, 0 = not yet). */
  keyframeLog: (GeneratorStats['keyframeLog'][number] & { sentAt?: number })[];
}

export interface GeneratorSide {
  readonly pids: number[];
  /** Adds halls; a hall it has already has moved to the transport given and starts over there. */
  addHalls(halls: GeneratorHall[]): Promise<void>;
  setLayers(hall: string, maxLayer: number): Promise<void>;
  /** Counters since the start; lateness, skips and drops since the previous call. */
  stats(): Promise<GeneratorSideStats>;
  close(): Promise<void>;
}

export interface ReceiverKey {
  receiver: string;
  myKey: string;
  sfuKey: string;
  suite: SrtpSuite;
  sfuIp: string;
  sfuPort: number;
}

export interface SinkSideReport {
  groups: SinkReport['groups'];
  latencyUs: number[];
  nacksSent: number;
  /** Drops at the sinks' own sockets counted by the sinks (SO_RXQ_OVFL); null: not measured. */
  socketDrops: number | null;
  /** Kernel receipt → read, p99 (ms); null: not measured (the Node sink reports its loop delay instead). */
  readDelayP99Ms: number | null;
  readDelayMaxMs: number | null;
  loopDelayP99Ms: number | null;
  /** Packets that came before their receiver's keys (native shared sockets). */
  unmapped: number;
}

export interface SinkSide {
  readonly pids: number[];
  /** Binds the receivers (probes on sockets of their own); returns each receiver's port. */
  bind(receivers: SinkReceiver[]): Promise<Record<string, number>>;
  /** Keys and the SFU's address per receiver; a receiver keyed again has moved to that transport. */
  keys(keys: ReceiverKey[]): Promise<void>;
  mark(): Promise<void>;
  report(): Promise<SinkSideReport>;
  /** First packets of streams since `sinceMs` (native only). */
  streamStarts(sinceMs: number): Promise<StreamStart[]>;
  /** From now, note each receiver's first video packet of a stream it never had before. */
  watch(): Promise<void>;
  /**
   * Per receiver, when (epoch ms) that packet came since the last watch, or null: the native
   * sink's kernel receive time, the Node sink's Date.now() when its loop read it.
   */
  arrivals(): Promise<Record<string, number | null>>;
  close(): Promise<void>;
}

/** A Node child process answering requests by id. */
export class Child {
  readonly proc: ChildProcess;
  #next = 1;
  readonly #waiting = new Map<number, (m: any) => void>();
  constructor(script: string, env: NodeJS.ProcessEnv = {}) {
    // DIEMCAU_BENCH_CPU_PROF=dir: a V8 CPU profile of each child (to see what the harness spends).
    const prof = process.env.DIEMCAU_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.DIEMCAU_BENCH_CPU_PROF}`] : [];
    this.proc = fork(path.join(here, script), [], { execArgv: ['--import', 'tsx', ...prof], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: any) => {
      const w = this.#waiting.get(m.id);
      if (w) {
        this.#waiting.delete(m.id);
        w(m);
      }
    });
  }
  request<T = any>(msg: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child ${String(msg.type)} timed out`)), timeoutMs);
      this.#waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
      this.proc.send({ ...msg, id });
    });
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || !this.proc.connected) return;
    await this.request({ type: 'stop' }, 5000).catch(() => this.proc.kill('SIGKILL'));
  }
}

class NodeGeneratorSide implements GeneratorSide {
  readonly #child: Child;
  constructor(env: NodeJS.ProcessEnv) {
    this.#child = new Child('generator.ts', env);
  }
  get pids(): number[] {
    return [this.#child.proc.pid!];
  }
  async addHalls(halls: GeneratorHall[]): Promise<void> {
    await this.#child.request({ type: 'halls', halls }, 120_000);
  }
  async setLayers(hall: string, maxLayer: number): Promise<void> {
    await this.#child.request({ type: 'layers', hall, maxLayer });
  }
  async stats(): Promise<GeneratorSideStats> {
    const s = (await this.#child.request<{ stats: GeneratorStats }>({ type: 'stats' })).stats;
    return { ...s, socketDrops: null };
  }
  close(): Promise<void> {
    return this.#child.stop();
  }
}

class NativeGeneratorSide implements GeneratorSide {
  readonly #gen: NativeGenerator;
  constructor(bindIp?: string) {
    this.#gen = new NativeGenerator({ bindIp });
  }
  get pids(): number[] {
    return [this.#gen.pid];
  }
  addHalls(halls: GeneratorHall[]): Promise<void> {
    return this.#gen.addHalls(halls);
  }
  setLayers(hall: string, maxLayer: number): Promise<void> {
    return this.#gen.setLayers(hall, maxLayer);
  }
  stats(): Promise<GeneratorSideStats> {
    return this.#gen.stats();
  }
  close(): Promise<void> {
    return this.#gen.close();
  }
}

/** The Node sinks: one process for the receivers, one (at higher priority) for the probes. */
class NodeSinkSide implements SinkSide {
  readonly sink: Child;
  readonly probe: Child;
  #probeIds = new Set<string>();
  constructor(env: NodeJS.ProcessEnv) {
    this.sink = new Child('sink.ts', env);
    this.probe = new Child('sink.ts', env);
  }
  get pids(): number[] {
    return [this.sink.proc.pid!, this.probe.proc.pid!];
  }
  async bind(receivers: SinkReceiver[]): Promise<Record<string, number>> {
    this.#probeIds = new Set(receivers.filter((r) => r.probe).map((r) => r.id));
    const [{ ports }, { ports: probePorts }] = await Promise.all([
      this.sink.request<{ ports: Record<string, number> }>({ type: 'bind', receivers: receivers.filter((r) => !r.probe) }),
      this.probe.request<{ ports: Record<string, number> }>({ type: 'bind', receivers: receivers.filter((r) => r.probe) }),
    ]);
    return { ...ports, ...probePorts };
  }
  async keys(keys: ReceiverKey[]): Promise<void> {
    await this.sink.request({ type: 'keys', keys: keys.filter((k) => !this.#probeIds.has(k.receiver)) });
    await this.probe.request({ type: 'keys', keys: keys.filter((k) => this.#probeIds.has(k.receiver)) });
  }
  async mark(): Promise<void> {
    await Promise.all([this.sink.request({ type: 'mark' }), this.probe.request({ type: 'mark' })]);
  }
  async report(): Promise<SinkSideReport> {
    const [a, b] = await Promise.all([this.sink, this.probe].map((c) => c.request<{ report: SinkReport }>({ type: 'report' }).then((m) => m.report)));
    const groups: SinkReport['groups'] = { ...a!.groups };
    for (const [k, g] of Object.entries(b!.groups)) {
      const t = (groups[k] ??= { receivers: 0, packets: 0, octets: 0, expected: 0, lost: 0 });
      t.receivers += g.receivers;
      t.packets += g.packets;
      t.octets += g.octets;
      t.expected += g.expected;
      t.lost += g.lost;
    }
    return {
      groups,
      latencyUs: b!.latencyUs,
      nacksSent: a!.nacksSent + b!.nacksSent,
      socketDrops: null,
      readDelayP99Ms: null,
      readDelayMaxMs: null,
      loopDelayP99Ms: Math.max(a!.loopDelayP99Ms, b!.loopDelayP99Ms),
      unmapped: 0,
    };
  }
  streamStarts(): Promise<StreamStart[]> {
    return Promise.reject(new Error('stream starts need the native sink (--harness native)'));
  }
  async watch(): Promise<void> {
    await Promise.all([this.sink.request({ type: 'watch' }), this.probe.request({ type: 'watch' })]);
  }
  async arrivals(): Promise<Record<string, number | null>> {
    const [a, b] = await Promise.all([this.sink, this.probe].map((c) => c.request<{ arrivals: Record<string, number | null> }>({ type: 'arrivals' }).then((m) => m.arrivals)));
    return { ...a, ...b };
  }
  async close(): Promise<void> {
    await Promise.all([this.sink.stop(), this.probe.stop()]);
  }
}

/** Receivers that are not probes share this many sockets in the native sink. */
const SHARED_SOCKETS = 4;

class NativeSinkSide implements SinkSide {
  readonly #sink: NativeSink;
  readonly #ready: Promise<void>;
  constructor(videoPts: number[], bindIp?: string) {
    this.#sink = new NativeSink(undefined, { bindIp });
    this.#ready = Promise.all([this.#sink.shareSockets(SHARED_SOCKETS), this.#sink.videoPayloadTypes(videoPts)]).then(() => undefined);
  }
  get pids(): number[] {
    return [this.#sink.pid];
  }
  async bind(receivers: SinkReceiver[]): Promise<Record<string, number>> {
    await this.#ready;
    return this.#sink.bind(receivers);
  }
  keys(keys: ReceiverKey[]): Promise<void> {
    return this.#sink.keys(keys);
  }
  mark(): Promise<void> {
    return this.#sink.mark();
  }
  async report(): Promise<SinkSideReport> {
    const r = await this.#sink.report();
    return {
      groups: r.groups,
      latencyUs: r.latencyUs,
      nacksSent: r.nacksSent,
      socketDrops: r.socketDrops,
      readDelayP99Ms: r.readDelayUs.p99 / 1000,
      readDelayMaxMs: r.readDelayUs.max / 1000,
      loopDelayP99Ms: null,
      unmapped: r.unmapped,
    };
  }
  streamStarts(sinceMs: number): Promise<StreamStart[]> {
    return this.#sink.streamStarts(sinceMs);
  }
  watch(): Promise<void> {
    return this.#sink.watch();
  }
  arrivals(): Promise<Record<string, number | null>> {
    return this.#sink.arrivals();
  }
  close(): Promise<void> {
    return this.#sink.close();
  }
}

/** `bindIp`: the address the SFU reaches both sides at (bench:cascade's nodes are other hosts); loopback by default. */
export function createSides(impl: HarnessImpl, videoPts: number[], options: { bindIp?: string } = {}): { generator: GeneratorSide; sinks: SinkSide } {
  const env: NodeJS.ProcessEnv = { DIEMCAU_BENCH_VIDEO_PTS: videoPts.join(','), ...(options.bindIp ? { DIEMCAU_BENCH_BIND_IP: options.bindIp } : {}) };
  if (impl === 'node') return { generator: new NodeGeneratorSide(env), sinks: new NodeSinkSide(env) };
  if (impl === 'node-gen') return { generator: new NodeGeneratorSide(env), sinks: new NativeSinkSide(videoPts, options.bindIp) };
  return { generator: new NativeGeneratorSide(options.bindIp), sinks: new NativeSinkSide(videoPts, options.bindIp) };
}

/** The harness implementations a `--harness` flag may name. */
export function parseHarnessImpl(value: string | undefined, fallback: HarnessImpl = 'native'): HarnessImpl {
  if (value === undefined) return fallback;
  if (value === 'native' || value === 'node' || value === 'node-gen') return value;
  throw new Error(`--harness must be native, node or node-gen (got ${value})`);
}

/** The Node sinks' processes, to renice the probe one (its receipt times are the e2e figures). */
export function nodeProbePid(sinks: SinkSide): number | undefined {
  return sinks instanceof NodeSinkSide ? sinks.probe.proc.pid : undefined;
}
