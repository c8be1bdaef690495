/**
 * The fan-out harness as a library: builds a conference of synthetic SRTP halls (plus, when
 * asked, real Chromium halls) on a real diemcau server, measures a window, and switches speakers.
 * Used by bench:fanout (the whole conference) and bench:sweep (consumers × workers).
 */
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { types as ms } from 'mediasoup';
import type { Page } from 'puppeteer-core';
import type { ConsumeRequest, ConsumerSlot, MediaPeerSink, MediaSession } from '../../../sfu/index.ts';
import { startTestServer, inviteUrl } from '../../../test/helpers/server.ts';
import { launchChromium, openPage, type TestBrowser } from '../../../test/helpers/chromium.ts';
import { pageVideo, waitLive } from '../../../test/helpers/hall-page.ts';
import type { RunningServer } from '../../../server/app/server.ts';
import { SrtpSession, type SrtpSuite } from './srtp.ts';
import { WireCapture, wireCaptureAvailable, type WireFlow } from './capture.ts';
import type { GeneratorHall, GeneratorStats, SinkReceiver, SinkReport } from './protocol.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLK_TCK = 100;

/** A child process answering requests by id. */
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

/** CPU seconds (user + system) of a process from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function safeCpu(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Datagrams dropped by the kernel per local UDP port (full receive buffers), from /proc/net/udp. */
export function udpDropsByPort(): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = parseInt(f[1]!.split(':')[1]!, 16);
    out.set(port, (out.get(port) ?? 0) + Number(f[f.length - 1]));
  }
  return out;
}

function udpRcvbufErrors(): number {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf('RcvbufErrors')]);
}

function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-apc', cpus, String(pid)], { stdio: 'ignore' });
}

/** Sets the nice value of every thread of a process (Linux applies it per thread). */
function renice(pid: number, nice: number): void {
  let tids: string[] = [String(pid)];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    // gone, or no /proc: the main thread only
  }
  try {
    execFileSync('renice', ['-n', String(nice), '-p', ...tids], { stdio: 'ignore' });
  } catch {
    // not permitted here: the latency figures then include the harness's own scheduling
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

export interface HarnessOptions {
  workers: number;
  /**
   * conference: the Lạng Sơn 2021 meeting (212 bridges publishing, the speaker to all, the
   * chair's audio to all, the chair's console with 12 thumbnails, the technicians' wall of 212);
   * viewers: the speaker and the chair only, to `viewers` receive-only peers (for the sweep).
   */
  scenario: 'conference' | 'viewers';
  viewers?: number;
  /** Real Chromium halls (communes) among the 212 (conference only). */
  browsers: number;
  /** Pin the harness to CPU 0 and a single worker to CPU 1. */
  pin: boolean;
  /** Receivers whose stamped packets are decrypted for latency. */
  probes: number;
  /** SRTP suite of the plain transports (browsers negotiate AEAD_AES_128/256_GCM over DTLS). */
  suite?: SrtpSuite;
  /** Measure forwarding at the wire with tcpdump when it can run (default true). */
  wire?: boolean;
  /** The server's link-health sampling period (its default, 2 s, when absent). */
  healthIntervalMs?: number;
  log?: (line: string) => void;
}

interface SyntheticPeer {
  peerId: string;
  bridgeId?: string;
  group: string;
}

export interface WindowResult {
  seconds: number;
  consumers: number;
  consumersActive: number;
  outPackets: number;
  outPps: number;
  pipePps: number;
  inPps: number;
  workerCpuSeconds: number[];
  usCpuPerOutPacket: number;
  sfuCpuPct: number;
  sfuCores: number;
  serverCpuPct: number;
  harnessCpuPct: number;
  /** All Chromium processes together (% of one CPU). */
  browsersCpuPct: number;
  lossPct: number;
  lost: number;
  expected: number;
  udpRcvbufErrors: number;
  /** Datagrams the kernel dropped at the SFU's sockets (the worker did not read in time). */
  sfuSocketDrops: number;
  /** ... and at the harness's sockets (the sinks did not keep up: loss not caused by the SFU). */
  harnessSocketDrops: number;
  /** SFU receipt → send, from kernel timestamps on loopback (tcpdump), or null without it. */
  fwdP50Ms: number | null;
  fwdP99Ms: number | null;
  fwdMaxMs: number | null;
  fwdSamples: number;
  /** Generator send → probe receipt in user space (includes the harness's scheduling). */
  e2eP50Ms: number;
  e2eP99Ms: number;
  e2eSamples: number;
  rssMb: number;
  groups: SinkReport['groups'];
  generatorLoopP99Ms: number;
  generatorPps: number;
  generatorNacked: number;
  sinkLoopP99Ms: number;
  nacksSent: number;
  browsers: { bridgeId: string; fps: number; height: number }[];
}

const CHAIR = 'p-20';

export class FanoutHarness {
  readonly options: HarnessOptions;
  server!: RunningServer;
  media!: MediaSession;
  #generator!: Child;
  #sink!: Child;
  #probe!: Child;
  #chromium?: TestBrowser;
  #pages = new Map<string, Page>();
  readonly #consumers = new Set<ms.Consumer>();
  readonly #pipeConsumers = new Set<ms.Consumer>();
  readonly #producers = new Map<string, ms.Producer>();
  readonly #peers: SyntheticPeer[] = [];
  /** Local ports of the SFU's plain transports (to tell its socket drops from the harness's). */
  readonly #sfuPorts = new Set<number>();
  /** Per publishing peer, its packets into the SFU; per probe, the SFU's packets to it. */
  readonly #inFlows = new Map<string, WireFlow>();
  readonly #probeFlows: WireFlow[] = [];
  #capture: WireCapture | null = null;
  readonly #log: (line: string) => void;
  speaker = 'd-178';

  constructor(options: HarnessOptions) {
    this.options = options;
    this.#log = options.log ?? ((l) => console.error(l));
  }

  async start(): Promise<void> {
    const o = this.options;
    // Every CPU again for this process: a pinned run before it in the same process (the sweep)
    // left it on CPU 0, and the workers and children it starts would inherit that.
    if (os.cpus().length > 1) {
      try {
        pin(process.pid, `0-${os.cpus().length - 1}`);
      } catch {
        // taskset missing: affinity as it is
      }
    }
    this.server = await startTestServer(o.workers, {}, { healthIntervalMs: o.healthIntervalMs });
    this.media = this.server.media;
    for (const router of this.media.routers()) {
      router!.observer.on('newtransport', (t) => {
        t.observer.on('newconsumer', (c) => {
          const set = t.constructor.name === 'PipeTransport' ? this.#pipeConsumers : this.#consumers;
          set.add(c);
          c.observer.once('close', () => set.delete(c));
        });
        t.observer.on('newproducer', (p) => {
          if (t.constructor.name !== 'PipeTransport') this.#producers.set(p.id, p);
        });
      });
    }
    const caps = this.media.rtpCapabilities;
    const vp8 = caps.codecs!.find((c) => c.mimeType === 'video/VP8')!;
    const env = { DIEMCAU_BENCH_VIDEO_PTS: String(vp8.preferredPayloadType) };
    this.#generator = new Child('generator.ts', env);
    this.#sink = new Child('sink.ts', env);
    this.#probe = new Child('sink.ts', env);
    if (o.pin && !process.env.DIEMCAU_BENCH_NO_NICE) {
      // The probe's receive time and the generator's send stamp should not wait behind the busy
      // sink on the harness CPU: both get a higher CFS weight (nice), the probe most. (SCHED_FIFO
      // deadlocked Node here: its helper threads spun at the same priority on the one CPU.)
      renice(this.#probe.proc.pid!, -15);
      renice(this.#generator.proc.pid!, -5);
    }

    // Who takes part.
    const bridges = this.server.plan.bridges.map((b) => b.id);
    const browserBridges = o.scenario === 'conference' ? bridges.filter((b) => b.startsWith('c-')).slice(bridges.filter((b) => b.startsWith('c-')).length - o.browsers) : [];
    const publishers = o.scenario === 'conference' ? bridges.filter((b) => !browserBridges.includes(b)) : [CHAIR, this.speaker, 'd-180', 'd-186', 'c-06010'];
    for (const b of publishers) this.#peers.push({ peerId: `bench:${b}`, bridgeId: b, group: b === CHAIR ? 'chair' : 'halls' });
    if (o.scenario === 'conference') {
      this.#peers.push({ peerId: 'bench:console', group: 'console' }, { peerId: 'bench:wall', group: 'wall' });
    } else {
      for (let i = 0; i < (o.viewers ?? 0); i++) this.#peers.push({ peerId: `bench:viewer-${i}`, group: 'viewers' });
    }

    // Receiving sockets first (their ports are where the SFU sends), probes in their own process.
    const receivers: SinkReceiver[] = this.#peers.map((p) => ({ id: p.peerId, group: p.group, probe: false }));
    // Probes receive the speaker (the speaker's own hall receives the chair, not measured).
    const probeIds = new Set(receivers.filter((r) => (r.group === 'halls' || r.group === 'viewers') && r.id !== `bench:${this.speaker}`).slice(0, o.probes).map((r) => r.id));
    const [{ ports }, { ports: probePorts }] = await Promise.all([
      this.#sink.request<{ ports: Record<string, number> }>({ type: 'bind', receivers: receivers.filter((r) => !probeIds.has(r.id)) }),
      this.#probe.request<{ ports: Record<string, number> }>({ type: 'bind', receivers: receivers.filter((r) => probeIds.has(r.id)).map((r) => ({ ...r, probe: true })) }),
    ]);
    const portOf = (id: string): number => ports[id] ?? probePorts[id]!;

    const halls: GeneratorHall[] = [];
    const keys: { sink: Child; key: { receiver: string; myKey: string; sfuKey: string; suite: SrtpSuite; sfuIp: string; sfuPort: number } }[] = [];
    const SUITE: SrtpSuite = o.suite ?? 'AEAD_AES_128_GCM';
    const sinks = new Map<string, PlainSink>();
    const setUp = async (p: SyntheticPeer): Promise<void> => {
      const publish = p.bridgeId !== undefined;
      const sink = new PlainSink((max) => void this.#generator.request({ type: 'layers', hall: p.peerId, maxLayer: max }).catch(() => undefined));
      sinks.set(p.peerId, sink);
      this.media.join(p.peerId, {
        bridgeId: p.bridgeId,
        publish,
        receiveOnAir: p.group !== 'wall',
        thumbnails: p.group === 'console' || p.group === 'wall',
      }, sink);
      this.media.setRtpCapabilities(p.peerId, receiverCaps(caps));
      const recvKey = SrtpSession.randomKey(SUITE);
      const recv = await this.media.createPlainTransport(p.peerId, 'recv', { comedia: false, srtpCryptoSuite: SUITE });
      this.#sfuPorts.add(recv.port);
      await this.media.connectPlainTransport(p.peerId, recv.id, { ip: '127.0.0.1', port: portOf(p.peerId), srtpParameters: { cryptoSuite: SUITE, keyBase64: recvKey } });
      if (probeIds.has(p.peerId)) this.#probeFlows.push({ port: portOf(p.peerId), key: recv.srtpParameters!.keyBase64, suite: SUITE, direction: 'out' });
      keys.push({ sink: probeIds.has(p.peerId) ? this.#probe : this.#sink, key: { receiver: p.peerId, myKey: recvKey, sfuKey: recv.srtpParameters!.keyBase64, suite: SUITE, sfuIp: recv.ip, sfuPort: recv.port } });
      if (!publish) return;
      const sendKey = SrtpSession.randomKey(SUITE);
      const send = await this.media.createPlainTransport(p.peerId, 'send', { comedia: true, srtpCryptoSuite: SUITE });
      this.#sfuPorts.add(send.port);
      await this.media.connectPlainTransport(p.peerId, send.id, { srtpParameters: { cryptoSuite: SUITE, keyBase64: sendKey } });
      this.#inFlows.set(p.peerId, { port: send.port, key: sendKey, suite: SUITE, direction: 'in' });
      const base = 0x1000_0000 + halls.length * 16 + Math.floor(Math.random() * 8) * 0x100_0000;
      const hall: GeneratorHall = {
        id: p.peerId,
        ip: send.ip,
        port: send.port,
        myKey: sendKey,
        sfuKey: send.srtpParameters!.keyBase64,
        suite: SUITE,
        mic: { ssrc: base, pt: 111 },
        cam: { ssrcs: [base + 1, base + 2, base + 3], pt: 96, rtxSsrcs: [base + 5, base + 6, base + 7], rtxPt: 97 },
        maxLayer: sink.maxLayer,
      };
      halls.push(hall);
      await this.media.produce(p.peerId, send.id, 'audio', micParameters(hall), 'mic');
      await this.media.produce(p.peerId, send.id, 'video', camParameters(hall), 'cam');
      hall.maxLayer = sink.maxLayer;
    };
    const queue = [...this.#peers];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) await setUp(p);
    }));
    await this.#sink.request({ type: 'keys', keys: keys.filter((k) => k.sink === this.#sink).map((k) => k.key) });
    await this.#probe.request({ type: 'keys', keys: keys.filter((k) => k.sink === this.#probe).map((k) => k.key) });
    // Chromium halls connect before the synthetic load starts (under it, ICE/DTLS could time out).
    if (browserBridges.length) {
      this.#chromium = await launchChromium();
      const log: string[] = [];
      for (const b of browserBridges) {
        const page = await openPage(this.#chromium.browser, await inviteUrl(this.server, b), log);
        this.#pages.set(b, page);
      }
      try {
        for (const [b, page] of this.#pages) await waitLive(page, b, 60_000);
      } catch (error) {
        this.#log(log.slice(-20).join('\n'));
        throw error;
      }
    }
    // The layers each hall was last told to send (a 'layers' message before the generator knew
    // the hall was lost).
    for (const hall of halls) hall.maxLayer = sinks.get(hall.id)?.maxLayer ?? hall.maxLayer;
    await this.#generator.request({ type: 'halls', halls }, 120_000);
    if (o.scenario === 'conference') {
      const districts = bridges.filter((b) => b.startsWith('d-'));
      const communes = bridges.filter((b) => b.startsWith('c-'));
      this.media.setThumbnails('bench:console', [...districts, communes[0]!].slice(0, 12));
      this.media.setThumbnails('bench:wall', bridges);
    }
    // What the control plane does at a grant: the speaker on air, its microphone and the chair's open.
    await Promise.all([this.media.setOnAir(this.speaker), this.media.setOpenMicrophones([this.media.chairBridgeId, this.speaker])]);
    // The SFU creates the 861 consumers as the peers join, under load: wait until their number
    // holds for 1.5 s, so that the window does not measure consumers still being created (each
    // new one asks its hall for a keyframe).
    for (let last = -1, stable = 0, waited = 0; stable < 3 && waited < 120_000; waited += 500) {
      await new Promise((r) => setTimeout(r, 500));
      stable = this.#consumers.size === last ? stable + 1 : 0;
      last = this.#consumers.size;
    }

    if (o.pin) {
      // Pinned once everything is up: the harness — this process with the server's control
      // plane, the generator, the sinks — on CPU 0; a single worker alone on CPU 1 (2 workers
      // float). Chromium joins the harness below, once connected (started there it could not
      // even connect).
      for (const pid of [process.pid, ...[this.#generator, this.#sink, this.#probe].map((c) => c.proc.pid!)]) pin(pid, '0');
      if (o.workers === 1) for (const pid of this.server.pool.pids()) pin(pid, '1');
    }
    // Chromium at the lowest priority: its halls are there to run the real ICE/DTLS/SRTP/RTCP
    // paths, not to compete with what is measured. At normal priority its 0.6-0.7 of a core
    // (decoding the 720p programme, encoding its camera) oversubscribed the 2 cores with the
    // worker and the harness: the worker's socket queue stood (forwarding p50 212 ms, 4 % loss).
    // Its decoded frame rate is reported, so a starved browser shows.
    if (this.#chromium) {
      for (const pid of chromiumPids(this.#chromium)) {
        renice(pid, 19);
        if (o.pin && o.workers === 1) pin(pid, '0');
      }
    }
    this.#log(`fanout: worker pids ${this.server.pool.pids().join(",")}; ${this.#peers.length} synthetic peers (${halls.length} publishing), ${browserBridges.length} Chromium halls, ${this.#consumers.size} consumers on ${o.workers} worker(s)`);
  }

  /** Measures one window of `seconds` with the current programme. */
  async measure(seconds: number): Promise<WindowResult> {
    const pids = this.server.pool.pids();
    const consumers = [...this.#consumers];
    const pipes = [...this.#pipeConsumers];
    const producers = [...this.#producers.values()];
    const sent = async (list: ms.Consumer[]): Promise<Map<string, number>> => {
      const out = new Map<string, number>();
      await Promise.all(list.map(async (c) => {
        // A consumer whose stats did not come (a saturated worker times requests out) is left
        // out of both ends of the window rather than counted from zero.
        const stats = await c.getStats().catch(() => null);
        if (!stats) return;
        let n = 0;
        for (const s of stats) if (s.type === 'outbound-rtp') n += s.packetCount ?? 0;
        out.set(c.id, n);
      }));
      return out;
    };
    const received = async (): Promise<Map<string, number>> => {
      const out = new Map<string, number>();
      await Promise.all(producers.map(async (p) => {
        const stats = await p.getStats().catch(() => null);
        if (stats) out.set(p.id, stats.reduce((n, s) => n + (s.packetCount ?? 0), 0));
      }));
      return out;
    };
    const browserFrames = async (): Promise<Map<string, { frames: number; height: number }>> => {
      const out = new Map<string, { frames: number; height: number }>();
      for (const [b, page] of this.#pages) {
        const v = (await pageVideo(page).catch(() => [])).find((x) => x.slot === 'onair' && x.kind === 'video');
        out.set(b, { frames: v?.framesDecoded ?? 0, height: v?.frameHeight ?? 0 });
      }
      return out;
    };
    const [, , gen0] = await Promise.all([this.#sink.request({ type: 'mark' }), this.#probe.request({ type: 'mark' }), this.#generator.request<{ stats: GeneratorStats }>({ type: 'stats' }).then((m) => m.stats)]);
    const [c0, p0, in0, b0] = await Promise.all([sent(consumers), sent(pipes), received(), browserFrames()]);
    const cpu0 = pids.map(cpuSeconds);
    const server0 = cpuSeconds(process.pid);
    const harness0 = [this.#generator, this.#sink, this.#probe].map((c) => cpuSeconds(c.proc.pid!));
    const browserPids = this.#chromium ? chromiumPids(this.#chromium) : [];
    const browser0 = browserPids.map((p) => safeCpu(p));
    const udp0 = udpRcvbufErrors();
    const drops0 = udpDropsByPort();
    const speakerFlow = this.#inFlows.get(`bench:${this.speaker}`);
    if (this.options.wire !== false && speakerFlow && this.#probeFlows.length > 0 && wireCaptureAvailable()) {
      this.#capture = await WireCapture.start([speakerFlow, ...this.#probeFlows], path.join(os.tmpdir(), `diemcau-fanout-${process.pid}.pcap`));
    }
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const wire = this.#capture ? await this.#capture.stop() : null;
    this.#capture = null;
    const cpu1 = pids.map(cpuSeconds);
    const server1 = cpuSeconds(process.pid);
    const harness1 = [this.#generator, this.#sink, this.#probe].map((c) => cpuSeconds(c.proc.pid!));
    const browser1 = browserPids.map((p) => safeCpu(p));
    const udp1 = udpRcvbufErrors();
    const drops1 = udpDropsByPort();
    let sfuDrops = 0;
    let otherDrops = 0;
    for (const [port, n] of drops1) {
      const d = n - (drops0.get(port) ?? 0);
      if (this.#sfuPorts.has(port)) sfuDrops += d;
      else otherDrops += d;
    }
    const [sinkReport, probeReport, gen] = await Promise.all([
      this.#sink.request<{ report: SinkReport }>({ type: 'report' }).then((m) => m.report),
      this.#probe.request<{ report: SinkReport }>({ type: 'report' }).then((m) => m.report),
      this.#generator.request<{ stats: GeneratorStats }>({ type: 'stats' }).then((m) => m.stats),
    ]);
    const [c1, p1, in1, b1] = await Promise.all([sent(consumers), sent(pipes), received(), browserFrames()]);
    let outPackets = 0;
    let active = 0;
    for (const [id, n] of c1) {
      if (!c0.has(id)) continue;
      const d = n - c0.get(id)!;
      outPackets += d;
      if (d > 0) active++;
    }
    let pipePackets = 0;
    for (const [id, n] of p1) if (p0.has(id)) pipePackets += n - p0.get(id)!;
    const workerCpu = cpu1.map((c, i) => c - cpu0[i]!);
    const cpuTotal = workerCpu.reduce((a, b) => a + b, 0);
    const groups: SinkReport['groups'] = { ...sinkReport.groups };
    for (const [k, g] of Object.entries(probeReport.groups)) {
      const t = (groups[k] ??= { receivers: 0, packets: 0, octets: 0, expected: 0, lost: 0 });
      t.receivers += g.receivers;
      t.packets += g.packets;
      t.octets += g.octets;
      t.expected += g.expected;
      t.lost += g.lost;
    }
    const expected = Object.values(groups).reduce((n, g) => n + g.expected, 0);
    const lost = Object.values(groups).reduce((n, g) => n + g.lost, 0);
    const lat = probeReport.latencyUs.map((u) => u / 1000);
    return {
      seconds: round(wall, 1),
      consumers: consumers.length,
      consumersActive: active,
      outPackets,
      outPps: Math.round(outPackets / wall),
      pipePps: Math.round(pipePackets / wall),
      inPps: Math.round([...in1].reduce((n, [id, v]) => n + (in0.has(id) ? v - in0.get(id)! : 0), 0) / wall),
      workerCpuSeconds: workerCpu.map((x) => round(x)),
      usCpuPerOutPacket: round((cpuTotal * 1e6) / Math.max(1, outPackets)),
      sfuCpuPct: round((cpuTotal / wall / os.cpus().length) * 100, 1),
      sfuCores: round(cpuTotal / wall),
      serverCpuPct: round(((server1 - server0) / wall) * 100, 1),
      browsersCpuPct: round(((browser1.reduce((a, b) => a + b, 0) - browser0.reduce((a, b) => a + b, 0)) / wall) * 100, 1),
      harnessCpuPct: round((harness1.reduce((a, b) => a + b, 0) - harness0.reduce((a, b) => a + b, 0)) / wall * 100, 1),
      lossPct: round((lost / Math.max(1, expected)) * 100, 3),
      lost,
      expected,
      udpRcvbufErrors: udp1 - udp0,
      sfuSocketDrops: sfuDrops,
      harnessSocketDrops: otherDrops,
      fwdP50Ms: wire ? round(percentile(wire.latencyMs, 50), 3) : null,
      fwdP99Ms: wire ? round(percentile(wire.latencyMs, 99), 3) : null,
      fwdMaxMs: wire ? round(Math.max(...wire.latencyMs, 0), 3) : null,
      fwdSamples: wire?.latencyMs.length ?? 0,
      e2eP50Ms: round(percentile(lat, 50), 3),
      e2eP99Ms: round(percentile(lat, 99), 3),
      e2eSamples: lat.length,
      rssMb: round(pids.map(rssMb).reduce((a, b) => a + b, 0), 0),
      groups,
      generatorLoopP99Ms: round(gen.loopDelayP99Ms),
      generatorPps: Math.round((gen.packets - gen0.packets) / wall),
      generatorNacked: gen.nacked - gen0.nacked,
      sinkLoopP99Ms: round(sinkReport.loopDelayP99Ms),
      nacksSent: sinkReport.nacksSent + probeReport.nacksSent,
      browsers: [...this.#pages.keys()].map((b) => ({
        bridgeId: b,
        fps: round(((b1.get(b)?.frames ?? 0) - (b0.get(b)?.frames ?? 0)) / wall, 1),
        height: b1.get(b)?.height ?? 0,
      })),
    };
  }

  /** Keyframe requests that reached each hall's camera so far (the generator's count). */
  async keyframeRequests(): Promise<Record<string, number>> {
    return (await this.#generator.request<{ stats: GeneratorStats }>({ type: 'stats' })).stats.keyframeRequests;
  }

  /**
   * Gives the floor to `to`, prepared (setNext first, as the control plane does for the head of
   * the queue) or cold, and counts the keyframe requests reaching the new speaker's camera in
   * the following `settleMs`.
   */
  async switchTo(to: string, prepared: boolean, settleMs = 2500): Promise<{ to: string; prepared: boolean; keyframeRequests: number; setOnAirMs: number; requests: string[] }> {
    if (prepared) {
      await this.media.setNext(to);
      await new Promise((r) => setTimeout(r, 1500));
    }
    const before = (await this.keyframeRequests())[`bench:${to}`] ?? 0;
    const t0 = performance.now();
    await Promise.all([this.media.setOnAir(to), this.media.setOpenMicrophones([this.media.chairBridgeId, to])]);
    const setOnAirMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, settleMs));
    const stats = (await this.#generator.request<{ stats: GeneratorStats }>({ type: 'stats' })).stats;
    const after = stats.keyframeRequests[`bench:${to}`] ?? 0;
    const startedAt = Date.now() - settleMs - setOnAirMs;
    const requests = stats.keyframeLog.filter((k) => k.hall === `bench:${to}` && k.at >= startedAt).map((k) => `L${k.layer} ${k.kind} +${k.at - startedAt} ms`);
    this.speaker = to;
    return { to, prepared, keyframeRequests: after - before, setOnAirMs: round(setOnAirMs, 1), requests };
  }

  async close(): Promise<void> {
    this.#capture?.close();
    await Promise.all([this.#generator, this.#sink, this.#probe].map((c) => c?.stop()));
    await this.#chromium?.close();
    await this.server?.close();
  }
}

/** What a plain peer's "client" does when the session speaks to it. */
class PlainSink implements MediaPeerSink {
  maxLayer = 0;
  constructor(readonly onLayers: (max: number) => void) {}
  consume(_request: ConsumeRequest): Promise<void> {
    return Promise.resolve();
  }
  consumerClosed(): void {}
  consumerSlot(_id: string, _slot: ConsumerSlot): void {}
  sendLayers(max: number): void {
    this.maxLayer = max;
    this.onLayers(max);
  }
  micState(): void {}
  restartMedia(): void {}
  replaced(): void {}
}

/** The receive side's capabilities: the router's codecs with NACK/PLI/FIR, no header extensions, no BWE feedback. */
function receiverCaps(caps: ms.RtpCapabilities): ms.RtpCapabilities {
  return {
    codecs: caps.codecs!.map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type === 'nack' || f.type === 'ccm') })),
    headerExtensions: [],
  };
}

function micParameters(h: GeneratorHall): ms.RtpParameters {
  return {
    codecs: [{ mimeType: 'audio/opus', payloadType: h.mic.pt, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [] }],
    headerExtensions: [],
    encodings: [{ ssrc: h.mic.ssrc }],
    rtcp: { cname: h.id },
  };
}

function camParameters(h: GeneratorHall): ms.RtpParameters {
  return {
    codecs: [
      { mimeType: 'video/VP8', payloadType: h.cam.pt, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] },
      { mimeType: 'video/rtx', payloadType: h.cam.rtxPt, clockRate: 90000, parameters: { apt: h.cam.pt }, rtcpFeedback: [] },
    ],
    headerExtensions: [],
    encodings: h.cam.ssrcs.map((ssrc, i) => ({ ssrc, rtx: { ssrc: h.cam.rtxSsrcs[i]! }, scalabilityMode: 'L1T1' })),
    rtcp: { cname: h.id },
  };
}

function chromiumPids(b: TestBrowser): number[] {
  const root = b.browser.process()?.pid;
  if (!root) return [];
  const out: number[] = [root];
  try {
    const ps = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
    const children = ps.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, ppid] of children) if (out.includes(ppid!) && !out.includes(pid!)) (out.push(pid!), (grew = true));
    }
  } catch {
    // ps missing: Chromium stays unpinned
  }
  return out;
}
