/**
 * The fan-out harness as a library: builds a conference of synthetic SRTP halls (plus, when
 * asked, real Chromium halls) on a real diemcau server, measures a window, and switches speakers.
 * Used by bench:fanout (the whole conference), bench:sweep (consumers × workers) and bench:switch.
 * The synthetic load's two sides are in sides.ts (native C helpers by default, or the Node ones),
 * the verdict on a window in headroom.ts. Longer than 400 lines: a window reads every counter
 * (worker, harness, Chromium, kernel drops, cores) at the same two instants, kept in one place.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { types as ms } from 'mediasoup';
import type { Page } from 'puppeteer-core';
import type { ConsumeRequest, ConsumerSlot, MediaPeerSink, MediaSession } from '../../../sfu/index.ts';
import { startTestServer, inviteUrl } from '../../../test/helpers/server.ts';
import { launchChromium, openPage, type TestBrowser } from '../../../test/helpers/chromium.ts';
import { pageVideo, waitLive } from '../../../test/helpers/hall-page.ts';
import type { RunningServer } from '../../../server/app/server.ts';
import { SrtpSession, type SrtpSuite } from './srtp.ts';
import { WireCapture, wireCaptureAvailable, type WireFlow } from './capture.ts';
import type { GeneratorHall, SinkReceiver, SinkReport } from './protocol.ts';
import { createSides, nodeProbePid, type GeneratorSide, type HarnessImpl, type ReceiverKey, type SinkSide } from './sides.ts';
import { FPS } from './media.ts';
import { coreSample, coreBusyPct, machineBusyPctOfCore } from '../validity.ts';

export const CLK_TCK = 100;

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

/** Drops (full receive buffers) at these local UDP ports so far. */
export function udpDropsOfPorts(ports: number[]): number {
  const by = udpDropsByPort();
  return ports.reduce((n, p) => n + (by.get(p) ?? 0), 0);
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
export function renice(pid: number, nice: number): void {
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
  /** The synthetic load's implementation: native (C, default) or node (the first harness). */
  harness?: HarnessImpl;
  log?: (line: string) => void;
}

/** What the harness measured about itself in a window (see fanout/headroom.ts). */
export interface HarnessHeadroom {
  impl: HarnessImpl;
  pinned: boolean;
  /** CPUs the harness is pinned to, and the SFU's (pinned runs with one worker). */
  harnessCpus: number[];
  sfuCpus: number[];
  /** Each harness process's CPU over the window, % of one core. */
  processes: { name: string; pid: number; cpuPct: number }[];
  /** Busy % of every CPU over the window (everything on the machine, steal included). */
  coreBusyPct: number[];
  /** What the rest of the machine used beside the run (all CPUs), in % of one core. */
  othersCpuPct: number;
  /** Drops at the harness's own sockets: /proc/net/udp by its ports, and as its processes counted them (SO_RXQ_OVFL). */
  ownSocketDrops: number;
  sinkSocketDrops: number | null;
  generatorSocketDrops: number | null;
  /** Drops at UDP sockets that are neither the SFU's nor the harness's (other people's). */
  otherSocketDrops: number;
  sinkReadDelayP99Ms: number | null;
  sinkReadDelayMaxMs: number | null;
  sinkLoopDelayP99Ms: number | null;
  generatorLateP50Ms: number;
  generatorLateP99Ms: number;
  generatorLateMaxMs: number;
  generatorSkipped: number;
  /** Frames a second the synthetic programme is sent at (what a Chromium hall should decode). */
  sourceFps: number;
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
  /** ... and at the harness's own sockets (it did not keep up: loss not caused by the SFU). */
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
  headroom: HarnessHeadroom;
}

const CHAIR = 'p-20';

export class FanoutHarness {
  readonly options: HarnessOptions;
  server!: RunningServer;
  media!: MediaSession;
  #generator!: GeneratorSide;
  #sinks!: SinkSide;
  /** Every local port of the harness's own sockets (sinks, probes, generator). */
  readonly #ownPorts = new Set<number>();
  #chromium?: TestBrowser;
  #pages = new Map<string, Page>();
  readonly #consumers = new Set<ms.Consumer>();
  readonly #pipeConsumers = new Set<ms.Consumer>();
  /** The Chromium halls' receive transports. */
  readonly #webRtcRecv = new Set<ms.WebRtcTransport>();
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
        if (t.appData.kind === 'webrtc' && t.appData.direction === 'recv') this.#webRtcRecv.add(t as ms.WebRtcTransport);
        t.observer.once('close', () => this.#webRtcRecv.delete(t as ms.WebRtcTransport));
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
    ({ generator: this.#generator, sinks: this.#sinks } = createSides(o.harness ?? 'native', [vp8.preferredPayloadType!]));
    if (o.pin && !process.env.DIEMCAU_BENCH_NO_NICE) {
      // The receivers' read times and the generator's send stamps should not wait behind the
      // server's Node process on the harness CPU: a higher CFS weight (nice). With the Node
      // harness the probe process gets the most. (SCHED_FIFO deadlocked Node here: its helper
      // threads spun at the same priority on the one CPU.)
      const probe = nodeProbePid(this.#sinks);
      for (const pid of this.#sinks.pids) renice(pid, pid === probe ? -15 : -5);
      for (const pid of this.#generator.pids) renice(pid, -5);
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
    const ports = await this.#sinks.bind(receivers.map((r) => ({ ...r, probe: probeIds.has(r.id) })));
    for (const port of Object.values(ports)) this.#ownPorts.add(port);
    const portOf = (id: string): number => ports[id]!;

    const halls: GeneratorHall[] = [];
    const keys: ReceiverKey[] = [];
    const SUITE: SrtpSuite = o.suite ?? 'AEAD_AES_128_GCM';
    const sinks = new Map<string, PlainSink>();
    const setUp = async (p: SyntheticPeer): Promise<void> => {
      const publish = p.bridgeId !== undefined;
      const sink = new PlainSink((max) => void this.#generator.setLayers(p.peerId, max).catch(() => undefined));
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
      keys.push({ receiver: p.peerId, myKey: recvKey, sfuKey: recv.srtpParameters!.keyBase64, suite: SUITE, sfuIp: recv.ip, sfuPort: recv.port });
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
    await this.#sinks.keys(keys);
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
    await this.#generator.addHalls(halls);
    for (const port of (await this.#generator.stats()).ports ?? []) this.#ownPorts.add(port);
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
      for (const pid of [process.pid, ...this.#generator.pids, ...this.#sinks.pids]) pin(pid, '0');
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
    const close = await this.openWindow();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return close();
  }

  /** Starts a window (counters sampled now); the function returned ends it and gives the figures. */
  /**
   * `mediaStats: false` leaves out the consumers' and producers' stats (861 requests to the
   * worker at each end, which would delay a switch measured inside the window): the packet
   * rates then read 0, the harness's headroom is measured as always.
   */
  async openWindow(opts: { mediaStats?: boolean } = {}): Promise<() => Promise<WindowResult>> {
    const mediaStats = opts.mediaStats !== false;
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
    // tcpdump first: it takes a while to start, and every counter below is sampled at the window's start.
    const speakerFlow = this.#inFlows.get(`bench:${this.speaker}`);
    if (this.options.wire !== false && speakerFlow && this.#probeFlows.length > 0 && wireCaptureAvailable()) {
      this.#capture = await WireCapture.start([speakerFlow, ...this.#probeFlows], path.join(os.tmpdir(), `diemcau-fanout-${process.pid}.pcap`));
    }
    const [, gen0] = await Promise.all([this.#sinks.mark(), this.#generator.stats()]);
    const none = async (): Promise<Map<string, number>> => new Map();
    const [c0, p0, in0, b0] = await Promise.all(mediaStats ? [sent(consumers), sent(pipes), received(), browserFrames()] : [none(), none(), none(), browserFrames()]);
    const harnessProcs = [...this.#generator.pids.map((pid) => ({ name: 'generator', pid })), ...this.#sinks.pids.map((pid, i) => ({ name: i === 0 ? 'sink' : 'probe sink', pid }))];
    const cpu0 = pids.map(cpuSeconds);
    const server0 = cpuSeconds(process.pid);
    const harness0 = harnessProcs.map((h) => safeCpu(h.pid));
    const browserPids = this.#chromium ? chromiumPids(this.#chromium) : [];
    const browser0 = browserPids.map((p) => safeCpu(p));
    const udp0 = udpRcvbufErrors();
    const drops0 = udpDropsByPort();
    const cores0 = coreSample();
    const t0 = process.hrtime.bigint();
    return async () => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cores1 = coreSample();
      const cpu1 = pids.map(cpuSeconds);
      const server1 = cpuSeconds(process.pid);
      const harness1 = harnessProcs.map((h) => safeCpu(h.pid));
      const browser1 = browserPids.map((p) => safeCpu(p));
      const udp1 = udpRcvbufErrors();
      const drops1 = udpDropsByPort();
      const wire = this.#capture ? await this.#capture.stop() : null;
      this.#capture = null;
      let sfuDrops = 0;
      let ownDrops = 0;
      let otherDrops = 0;
      for (const [port, n] of drops1) {
        const d = n - (drops0.get(port) ?? 0);
        if (this.#sfuPorts.has(port)) sfuDrops += d;
        else if (this.#ownPorts.has(port)) ownDrops += d;
        else otherDrops += d;
      }
      const [sinkReport, gen] = await Promise.all([this.#sinks.report(), this.#generator.stats()]);
      const [c1, p1, in1, b1] = await Promise.all(mediaStats ? [sent(consumers), sent(pipes), received(), browserFrames()] : [none(), none(), none(), browserFrames()]);
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
      const groups = sinkReport.groups;
      const expected = Object.values(groups).reduce((n, g) => n + g.expected, 0);
      const lost = Object.values(groups).reduce((n, g) => n + g.lost, 0);
      const lat = sinkReport.latencyUs.map((u) => u / 1000);
      const harnessCpu = harness1.map((c, i) => c - harness0[i]!);
      const browserCpu = browser1.reduce((a, b) => a + b, 0) - browser0.reduce((a, b) => a + b, 0);
      const ours = cpuTotal + (server1 - server0) + harnessCpu.reduce((a, b) => a + b, 0) + browserCpu;
      const machineBusy = (machineBusyPctOfCore(cores0, cores1) / 100) * wall;
      const pinned = this.options.pin;
      const headroom: HarnessHeadroom = {
        impl: this.options.harness ?? 'native',
        pinned,
        harnessCpus: pinned ? [0] : [],
        sfuCpus: pinned && this.options.workers === 1 ? [1] : [],
        processes: harnessProcs.map((h, i) => ({ ...h, cpuPct: round((harnessCpu[i]! / wall) * 100, 1) })),
        coreBusyPct: coreBusyPct(cores0, cores1),
        othersCpuPct: round(((machineBusy - ours) / wall) * 100, 1),
        ownSocketDrops: ownDrops,
        sinkSocketDrops: sinkReport.socketDrops,
        generatorSocketDrops: gen.socketDrops,
        otherSocketDrops: otherDrops,
        sinkReadDelayP99Ms: sinkReport.readDelayP99Ms === null ? null : round(sinkReport.readDelayP99Ms, 3),
        sinkReadDelayMaxMs: sinkReport.readDelayMaxMs === null ? null : round(sinkReport.readDelayMaxMs, 3),
        sinkLoopDelayP99Ms: sinkReport.loopDelayP99Ms === null ? null : round(sinkReport.loopDelayP99Ms, 3),
        generatorLateP50Ms: round(gen.lateP50Ms, 3),
        generatorLateP99Ms: round(gen.lateP99Ms, 3),
        generatorLateMaxMs: round(gen.lateMaxMs, 3),
        generatorSkipped: gen.skipped,
        sourceFps: FPS,
      };
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
        browsersCpuPct: round((browserCpu / wall) * 100, 1),
        harnessCpuPct: round((harnessCpu.reduce((a, b) => a + b, 0) / wall) * 100, 1),
        lossPct: round((lost / Math.max(1, expected)) * 100, 3),
        lost,
        expected,
        udpRcvbufErrors: udp1 - udp0,
        sfuSocketDrops: sfuDrops,
        harnessSocketDrops: ownDrops,
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
        sinkLoopP99Ms: round(sinkReport.loopDelayP99Ms ?? 0),
        nacksSent: sinkReport.nacksSent,
        browsers: [...this.#pages.keys()].map((b) => ({
          bridgeId: b,
          fps: round(((b1.get(b)?.frames ?? 0) - (b0.get(b)?.frames ?? 0)) / wall, 1),
          height: b1.get(b)?.height ?? 0,
        })),
        headroom,
      };
    };
  }

  /**
   * Every hall's video consumer of `bridgeId`'s camera (thumbnails of the console and the wall
   * left out): which peer receives it, over what, and the SSRC it arrives with.
   */
  cameraConsumersOf(bridgeId: string): { peerId: string; bridgeId: string; ssrc: number; consumerId: string; webrtc: boolean }[] {
    const byId = new Map([...this.#consumers].map((c) => [c.id, c]));
    const out: { peerId: string; bridgeId: string; ssrc: number; consumerId: string; webrtc: boolean }[] = [];
    for (const peer of this.media.snapshot().peers) {
      if (!peer.bridgeId) continue; // the console and the wall: thumbnails
      for (const c of peer.consumers) {
        const consumer = byId.get(c.id);
        if (c.bridgeId !== bridgeId || c.source !== 'cam' || c.kind !== 'video' || c.slot === 'thumb' || !consumer) continue;
        out.push({ peerId: peer.peerId, bridgeId: peer.bridgeId, ssrc: consumer.rtpParameters.encodings![0]!.ssrc!, consumerId: c.id, webrtc: !peer.peerId.startsWith('bench:') });
      }
    }
    return out;
  }

  /** The local UDP ports of the Chromium halls' receive transports (where the SFU sends them media). */
  browserPorts(): number[] {
    return [...this.#webRtcRecv].map((t) => t.iceSelectedTuple?.remotePort).filter((p): p is number => typeof p === 'number');
  }

  /** The Chromium halls' pages, by bridge. */
  get pages(): ReadonlyMap<string, Page> {
    return this.#pages;
  }

  /** First packets of streams at the synthetic receivers since `sinceMs` (epoch ms; native sink). */
  streamStarts(sinceMs: number): ReturnType<SinkSide['streamStarts']> {
    return this.#sinks.streamStarts(sinceMs);
  }

  /** The generator's counters and keyframe log. */
  generatorStats(): ReturnType<GeneratorSide['stats']> {
    return this.#generator.stats();
  }

  /** Keyframe requests that reached each hall's camera so far (the generator's count). */
  async keyframeRequests(): Promise<Record<string, number>> {
    return (await this.#generator.stats()).keyframeRequests;
  }

  /**
   * Gives the floor to `to`, prepared (setNext first, as the control plane does for the head of
   * the queue) or cold, and counts the keyframe requests reaching the new speaker's camera in
   * the following `settleMs`.
   */
  async switchTo(to: string, prepared: boolean, settleMs = 2500): Promise<{ to: string; prepared: boolean; keyframeRequests: number; setOnAirMs: number; requests: string[]; requestLog: { layer: number; atMs: number; keyframeSentMs: number | null }[]; viewerStarts: { peerId: string; atMs: number | null; key: number | null }[] }> {
    if (prepared) {
      await this.media.setNext(to);
      await new Promise((r) => setTimeout(r, 1500));
    }
    const before = (await this.keyframeRequests())[`bench:${to}`] ?? 0;
    // The switch's start on the generator's clock (wall ms): taken here, not worked back from the
    // end of the wait below, whose timer fires late on a busy machine (a request made 3 ms after
    // the switch then fell before the window and the switch seemed to cost none).
    const startedAt = Date.now();
    const t0 = performance.now();
    await Promise.all([this.media.setOnAir(to), this.media.setOpenMicrophones([this.media.chairBridgeId, to])]);
    const setOnAirMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, settleMs));
    const stats = await this.#generator.stats();
    const after = stats.keyframeRequests[`bench:${to}`] ?? 0;
    const requests = stats.keyframeLog.filter((k) => k.hall === `bench:${to}` && k.at >= startedAt).map((k) => `L${k.layer} ${k.kind} +${round(k.at - startedAt, 1)} ms${k.sentAt ? ` (keyframe sent +${round(k.sentAt - startedAt, 1)} ms)` : ''}`);
    this.speaker = to;
    const requestLog = stats.keyframeLog.filter((k) => k.hall === `bench:${to}` && k.at >= startedAt).map((k) => ({ layer: k.layer, atMs: round(k.at - startedAt, 1), keyframeSentMs: k.sentAt ? round(k.sentAt - startedAt, 1) : null }));
    // When each synthetic viewer's consumer of the new speaker got its first packet (native sink:
    // kernel receive time; the Node sink does not say), and whether that packet starts a keyframe.
    const starts = await this.streamStarts(startedAt - 1);
    const byId = new Map([...this.#consumers].map((c) => [c.id, c]));
    const viewers = this.media.snapshot().peers.flatMap((peer) => peer.consumers.filter((c) => c.bridgeId === to && c.source === 'cam' && c.kind === 'video' && c.slot !== 'thumb' && byId.has(c.id)).map((c) => ({ peerId: peer.peerId, ssrc: byId.get(c.id)!.rtpParameters.encodings![0]!.ssrc! })));
    const viewerStarts = viewers.filter((c) => c.peerId.startsWith('bench:')).map((c) => {
      const first = starts.find((x) => x.receiver === c.peerId && x.ssrc === c.ssrc);
      return { peerId: c.peerId, atMs: first ? round(first.atMs - startedAt, 1) : null, key: first ? first.key : null };
    });
    return { to, prepared, keyframeRequests: after - before, setOnAirMs: round(setOnAirMs, 1), requests, requestLog, viewerStarts };
  }

  async close(): Promise<void> {
    this.#capture?.close();
    await Promise.all([this.#generator?.close(), this.#sinks?.close()]);
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
