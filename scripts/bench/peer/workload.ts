/**
 * bench:peer's workload, the same for both SFUs: one publisher (the fan-out harness's load
 * generator playing the clip: VP8 in three SSRC-simulcast layers + Opus, answering NACK and PLI)
 * reaching the SFU through the native endpoint's ICE/DTLS-SRTP relay, and N subscribers, each a
 * real ICE + DTLS-SRTP PeerConnection of the endpoint that counts what arrives. Measures a window:
 * the SFU process's CPU time per packet it sent, the loss at the receivers, and the harness's own
 * headroom (its CPU, its socket drops, the generator's lateness), which decides whether the
 * window is valid.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SrtpSession, type SrtpSuite } from '../fanout/srtp.ts';
import type { GeneratorHall, GeneratorStats } from '../fanout/protocol.ts';
import { Endpoint, iceCredentials, type LocalIce, type RemoteIce, type SrtpKeys } from './endpoint.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** An SFU as bench:peer drives it: its signalling for one publisher and N subscribers. */
export interface SfuUnderTest {
  readonly label: string;
  readonly version: string;
  /** The process whose CPU time is the SFU's. */
  readonly pid: number;
  publish(streams: Pick<GeneratorHall, 'mic' | 'cam'>, local: LocalIce): Promise<RemoteIce>;
  subscribe(id: string, local: LocalIce): Promise<RemoteIce>;
  /** Called once every subscriber is connected. */
  ready?(): Promise<void>;
  /** The kind of media a payload type it sends to subscribers carries. */
  kindOf(pt: number): 'audio' | 'video' | undefined;
  close(): Promise<void>;
}

/** Limits of the harness's headroom: a window beyond any of them measured the harness, not the SFU. */
export const VALIDITY = {
  /** CPU of the harness (endpoint, generator, this process) over the window, % of one core. */
  harnessCpuPct: 70,
  /** Datagrams the kernel dropped at the harness's sockets. */
  harnessSocketDrops: 0,
  /**
   * How late the generator's event loop was, 99th percentile (its frames and pacer run on
   * timers): its loop-delay histogram's p99 less the histogram's own period (below).
   */
  generatorLateP99Ms: 10,
  /** Work of other processes (and the hypervisor's steal) on the SFU's core, % of the window. */
  sfuCoreOtherPct: 5,
} as const;

/** A child answering requests by id over Node IPC (the fan-out harness's generator). */
class Child {
  readonly proc: ChildProcess;
  #next = 1;
  readonly #waiting = new Map<number, (m: unknown) => void>();
  constructor(script: string) {
    this.proc = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: { id: number }) => {
      const w = this.#waiting.get(m.id);
      if (w) (this.#waiting.delete(m.id), w(m));
    });
  }
  request<T>(msg: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`generator ${String(msg.type)} timed out`)), timeoutMs);
      this.#waiting.set(id, (m) => (clearTimeout(timer), resolve(m as T)));
      this.proc.send({ ...msg, id });
    });
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || !this.proc.connected) return;
    await this.request({ type: 'stop' }, 5000).catch(() => this.proc.kill('SIGKILL'));
  }
}

/** Run and wait time (ns) of all threads of a process, from /proc/PID/task/TID/schedstat. */
export function schedNs(pid: number): { run: number; wait: number } {
  let run = 0;
  let wait = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const [r, w] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      run += r!;
      wait += w!;
    } catch {
      // the thread ended
    }
  }
  return { run, wait };
}

/**
 * Idle and stolen time of one CPU in seconds, from /proc/stat, and when they were read. Busy time
 * is the wall time between two readings less idle and steal: the tick-sampled busy counts of a
 * core run fast on this VM (validity.ts's CoreSample says how much), its idle time does not.
 */
function cpuTimes(cpu: number): { idle: number; steal: number; at: number } {
  const at = performance.now() / 1000;
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return { idle: 0, steal: 0, at };
  const [, , , idle, iowait, , , steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return { idle: (idle! + iowait!) / 100, steal: steal! / 100, at };
}

/** Busy seconds (not idle, not stolen) of a CPU between two readings. */
function cpuBusy(a: { idle: number; steal: number; at: number }, b: { idle: number; steal: number; at: number }): number {
  return Math.max(0, b.at - a.at - (b.idle - a.idle) - (b.steal - a.steal));
}

/** Socket inodes of a process. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Kernel drops per UDP socket inode (full receive buffers), from /proc/net/udp of this namespace. */
function udpDrops(): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 13) out.set(f[9]!, Number(f[f.length - 1]));
  }
  return out;
}

function dropsOf(drops: Map<string, number>, inodes: Set<string>): number {
  let n = 0;
  for (const i of inodes) n += drops.get(i) ?? 0;
  return n;
}

export interface WorkloadOptions {
  /** Address of the SFUs' and the endpoint's sockets. */
  ip: string;
  subscribers: number;
  suite: SrtpSuite;
  /** The core the SFU is pinned to, if it is (nothing else should run there). */
  sfuCpu?: number;
  /** How many subscribers connect at once. */
  parallel?: number;
  log?: (line: string) => void;
}

export interface WindowResult {
  seconds: number;
  sfuCpuSeconds: number;
  /** % of one core. */
  sfuCpuPct: number;
  /** Time the SFU's threads were runnable but waited for a CPU, % of their run time. */
  sfuWaitPct: number;
  /** Other work on the SFU's core (other processes, the hypervisor's steal), % of the window; null unpinned. */
  sfuCoreOtherPct: number | null;
  /** Everything the SFU's core did (irq and softirq included) per packet; null unpinned. */
  coreUsPerPacket: number | null;
  /** RTP packets the subscribers received in the window (what the SFU sent them). */
  packets: number;
  outPps: number;
  /** Packets the publisher sent into the SFU (media, RTX, RTCP). */
  inPps: number;
  usPerPacket: number;
  expected: number;
  lost: number;
  lossPct: number;
  /** Subscribers that received both audio and video in the window. */
  subscribersReceiving: number;
  /** Per subscriber, on average: what shows which simulcast layer it got. */
  videoPpsPerSubscriber: number;
  videoKbpsPerSubscriber: number;
  audioPpsPerSubscriber: number;
  harnessCpuPct: number;
  /** Its parts, % of one core: the endpoint (all receivers and the relay), the generator, this process (signalling). */
  endpointCpuPct: number;
  generatorCpuPct: number;
  orchestratorCpuPct: number;
  /** The endpoint's CPU per packet it received: what one more subscriber costs the harness. */
  endpointUsPerPacket: number;
  harnessSocketDrops: number;
  sfuSocketDrops: number;
  generatorLoopP99Ms: number;
  /** Keyframe requests (PLI/FIR) the SFU sent the publisher in the window (keyframes are larger). */
  keyframeRequests: number;
  /** Packets received twice (by sequence number) at the subscribers. */
  duplicates: number;
  endpointFullBatches: number;
  valid: boolean;
  reasons: string[];
}

export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/**
 * The period of the generator's loop-delay histogram (`monitorEventLoopDelay({ resolution: 10 })`
 * in fanout/generator.ts). Node records the whole time between two of its timer's runs, period
 * included: an idle loop reads about 10 ms, not 0.
 */
export const GENERATOR_LOOP_RESOLUTION_MS = 10;

/** What a window's figures say about the harness's headroom: no reasons = valid. */
export function invalidReasons(r: Pick<WindowResult, 'harnessCpuPct' | 'harnessSocketDrops' | 'generatorLoopP99Ms' | 'sfuCoreOtherPct' | 'subscribersReceiving'>, subscribers: number): string[] {
  const reasons: string[] = [];
  const late = round(r.generatorLoopP99Ms - GENERATOR_LOOP_RESOLUTION_MS);
  if (r.harnessCpuPct > VALIDITY.harnessCpuPct) reasons.push(`harness CPU ${r.harnessCpuPct} % of a core > ${VALIDITY.harnessCpuPct} %`);
  if (r.harnessSocketDrops > VALIDITY.harnessSocketDrops) reasons.push(`${r.harnessSocketDrops} datagrams dropped at the harness's sockets`);
  if (late > VALIDITY.generatorLateP99Ms) reasons.push(`generator late: its loop ${late} ms late at p99 (loop delay p99 ${r.generatorLoopP99Ms} ms, period ${GENERATOR_LOOP_RESOLUTION_MS} ms) > ${VALIDITY.generatorLateP99Ms} ms`);
  if ((r.sfuCoreOtherPct ?? 0) > VALIDITY.sfuCoreOtherPct) reasons.push(`other work on the SFU's core ${r.sfuCoreOtherPct} % of the window > ${VALIDITY.sfuCoreOtherPct} %`);
  if (r.subscribersReceiving < subscribers) reasons.push(`only ${r.subscribersReceiving} of ${subscribers} subscribers received audio and video`);
  return reasons;
}

/** The publisher and the subscribers of one SFU, connected and flowing. */
export class PeerWorkload {
  readonly sfu: SfuUnderTest;
  readonly endpoint: Endpoint;
  readonly options: WorkloadOptions;
  readonly keys = new Map<string, SrtpKeys>();
  readonly subscriberIds: string[] = [];
  #generator?: Child;
  readonly #log: (line: string) => void;

  private constructor(sfu: SfuUnderTest, endpoint: Endpoint, options: WorkloadOptions) {
    this.sfu = sfu;
    this.endpoint = endpoint;
    this.options = options;
    this.#log = options.log ?? (() => undefined);
  }

  /** Connects the publisher, starts the generator, then connects every subscriber. */
  static async start(sfu: SfuUnderTest, endpoint: Endpoint, options: WorkloadOptions): Promise<PeerWorkload> {
    const w = new PeerWorkload(sfu, endpoint, options);
    try {
      await w.#publish();
      await w.addSubscribers(options.subscribers);
    } catch (error) {
      await w.close();
      throw error;
    }
    return w;
  }

  /** Connects `count` more subscribers (a few at a time). */
  async addSubscribers(count: number): Promise<void> {
    const first = this.subscriberIds.length;
    const ids = Array.from({ length: count }, (_, i) => `${this.sfu.label}-sub-${first + i}`);
    const queue = [...ids];
    await Promise.all(Array.from({ length: Math.min(this.options.parallel ?? 16, ids.length) }, async () => {
      for (let id = queue.shift(); id; id = queue.shift()) await this.#subscribe(id);
    }));
    this.subscriberIds.push(...ids);
    await this.sfu.ready?.();
    this.#log(`${this.sfu.label}: publisher and ${this.subscriberIds.length} subscribers connected`);
  }

  async #publish(): Promise<void> {
    const { ip, suite } = this.options;
    const id = `${this.sfu.label}-pub`;
    const { port, relayPort } = await this.endpoint.addPeer(id, ip, true);
    const local: LocalIce = { ip, port, ...iceCredentials(), fingerprint: this.endpoint.fingerprint };
    const base = 0x2000_0000 + Math.floor(Math.random() * 0x1000_0000);
    const streams: Pick<GeneratorHall, 'mic' | 'cam'> = {
      mic: { ssrc: base, pt: 111 },
      cam: { ssrcs: [base + 1, base + 2, base + 3], pt: 96, rtxSsrcs: [base + 5, base + 6, base + 7], rtxPt: 97 },
    };
    const remote = await this.sfu.publish(streams, local);
    const keys = await this.endpoint.connect(id, local, remote, [suite]);
    this.keys.set(id, keys);
    this.#generator = new Child(path.join(here, '..', 'fanout', 'generator.ts'));
    const hall: GeneratorHall = { id, ip: '127.0.0.1', port: relayPort, myKey: keys.clientKey, sfuKey: keys.serverKey, suite: keys.suite, ...streams, maxLayer: 2 };
    await this.#generator.request({ type: 'halls', halls: [hall] });
  }

  async #subscribe(id: string): Promise<void> {
    const { ip, suite } = this.options;
    const { port } = await this.endpoint.addPeer(id, ip, false);
    const local: LocalIce = { ip, port, ...iceCredentials(), fingerprint: this.endpoint.fingerprint };
    const remote = await this.sfu.subscribe(id, local);
    this.keys.set(id, await this.endpoint.connect(id, local, remote, [suite]));
  }

  /** Pids of the harness: this process, the generator, the endpoint. */
  harnessPids(): number[] {
    return [process.pid, this.#generator!.proc.pid!, this.endpoint.pid];
  }

  /**
   * Measures a window of `seconds`; `hooks.opened` runs right before the window's first snapshot
   * and `hooks.closing` right after its last (the instruction counters are zeroed and dumped
   * there), so that the instructions counted cover every packet counted. A dump stops the SFU
   * for a while: the backlog it forwards afterwards, and the datagrams its sockets drop
   * meanwhile, are outside the window.
   */
  async measure(seconds: number, hooks: { opened?: () => Promise<void>; closing?: () => Promise<void> } = {}): Promise<WindowResult> {
    await hooks.opened?.();
    const harness = this.harnessPids();
    const sfuSockets = socketInodes(this.sfu.pid);
    const harnessSockets = new Set(harness.flatMap((p) => [...socketInodes(p)]));
    const gen = this.#generator!;
    const gen0 = (await gen.request<{ stats: GeneratorStats }>({ type: 'stats' })).stats; // also resets its loop-delay histogram
    const relay0 = (await this.endpoint.stats()).peers.find((p) => p.peer === `${this.sfu.label}-pub`)!;
    await this.endpoint.mark();
    const drops0 = udpDrops();
    const sfu0 = schedNs(this.sfu.pid);
    const core = this.options.sfuCpu;
    const core0 = core === undefined ? null : cpuTimes(core);
    const h0 = harness.map((p) => schedNs(p).run);
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const sfu1 = schedNs(this.sfu.pid);
    const core1 = core === undefined ? null : cpuTimes(core);
    const h1 = harness.map((p) => schedNs(p).run);
    const drops1 = udpDrops();
    const stats = await this.endpoint.stats();
    const genStats = (await gen.request<{ stats: GeneratorStats }>({ type: 'stats' })).stats;
    const relay1 = stats.peers.find((p) => p.peer === `${this.sfu.label}-pub`)!;
    await hooks.closing?.();

    const subs = new Set(this.subscriberIds);
    let packets = 0;
    let expected = 0;
    let duplicates = 0;
    const kinds = new Map<string, Set<string>>();
    const byKind = { audio: { packets: 0, bytes: 0 }, video: { packets: 0, bytes: 0 } };
    for (const s of stats.streams) {
      if (!subs.has(s.peer)) continue;
      packets += s.received;
      expected += Math.max(s.expected, s.received);
      duplicates += Math.max(0, s.received - s.expected);
      const kind = this.sfu.kindOf(s.pt);
      if (!kind) continue;
      byKind[kind].packets += s.received;
      byKind[kind].bytes += s.bytes;
      if (s.received > 0) kinds.set(s.peer, (kinds.get(s.peer) ?? new Set()).add(kind));
    }
    const receiving = [...kinds.values()].filter((k) => k.size === 2).length;
    const perSub = (x: number): number => x / wall / Math.max(1, this.subscriberIds.length);
    const lost = Math.max(0, expected - packets);
    const cpu = (sfu1.run - sfu0.run) / 1e9;
    const wait = (sfu1.wait - sfu0.wait) / 1e9;
    const harnessCpu = h1.reduce((a, b, i) => a + b - h0[i]!, 0) / 1e9;
    const result: WindowResult = {
      seconds: round(wall, 1),
      sfuCpuSeconds: round(cpu, 3),
      sfuCpuPct: round((cpu / wall) * 100, 1),
      sfuWaitPct: round((wait / Math.max(cpu, 1e-9)) * 100, 1),
      sfuCoreOtherPct: core0 && core1 ? round((Math.max(0, cpuBusy(core0, core1) + core1.steal - core0.steal - cpu) / wall) * 100, 1) : null,
      coreUsPerPacket: core0 && core1 ? round((cpuBusy(core0, core1) * 1e6) / Math.max(1, packets), 3) : null,
      packets,
      outPps: Math.round(packets / wall),
      inPps: Math.round((relay1.relayedOut - relay0.relayedOut) / wall),
      usPerPacket: round((cpu * 1e6) / Math.max(1, packets), 3),
      expected,
      lost,
      lossPct: round((lost / Math.max(1, expected)) * 100, 3),
      subscribersReceiving: receiving,
      videoPpsPerSubscriber: round(perSub(byKind.video.packets), 1),
      videoKbpsPerSubscriber: round((perSub(byKind.video.bytes) * 8) / 1000, 0),
      audioPpsPerSubscriber: round(perSub(byKind.audio.packets), 1),
      harnessCpuPct: round((harnessCpu / wall) * 100, 1),
      endpointCpuPct: round(((h1[2]! - h0[2]!) / 1e9 / wall) * 100, 1),
      generatorCpuPct: round(((h1[1]! - h0[1]!) / 1e9 / wall) * 100, 1),
      orchestratorCpuPct: round(((h1[0]! - h0[0]!) / 1e9 / wall) * 100, 1),
      endpointUsPerPacket: round((h1[2]! - h0[2]!) / 1e3 / Math.max(1, packets), 3),
      harnessSocketDrops: dropsOf(drops1, harnessSockets) - dropsOf(drops0, harnessSockets),
      sfuSocketDrops: dropsOf(drops1, sfuSockets) - dropsOf(drops0, sfuSockets),
      generatorLoopP99Ms: round(genStats.loopDelayP99Ms),
      keyframeRequests: Object.values(genStats.keyframeRequests).reduce((a, b) => a + b, 0) - Object.values(gen0.keyframeRequests).reduce((a, b) => a + b, 0),
      duplicates,
      endpointFullBatches: stats.peers.reduce((n, p) => n + p.fullBatches, 0),
      valid: true,
      reasons: [],
    };
    result.reasons.push(...invalidReasons(result, this.subscriberIds.length));
    result.valid = result.reasons.length === 0;
    return result;
  }

  /**
   * The plumbing check: per subscriber, the streams that arrived and whether their first
   * packets decrypt (SRTP authentication verified) with the keys its DTLS exported.
   */
  async check(): Promise<{ subscriber: string; streams: { ssrc: number; pt: number; packets: number; decrypted: number; samples: number }[] }[]> {
    const stats = await this.endpoint.stats();
    const out = [];
    for (const id of this.subscriberIds) {
      const keys = this.keys.get(id)!;
      const samples = await this.endpoint.samples(id);
      const streams = [];
      for (const s of stats.streams.filter((x) => x.peer === id)) {
        const srtp = new SrtpSession(keys.serverKey, keys.suite);
        const mine = samples.filter((x) => x.ssrc === s.ssrc);
        const decrypted = mine.filter((x) => srtp.unprotectRtp(x.packet, true) !== null).length;
        streams.push({ ssrc: s.ssrc, pt: s.pt, packets: s.total, decrypted, samples: mine.length });
      }
      out.push({ subscriber: id, streams });
    }
    return out;
  }

  /** Stops the generator; the SFU and the endpoint belong to the caller. */
  async close(): Promise<void> {
    await this.#generator?.stop();
  }
}
