/**
 * bench:cascade's harness: the meeting over several media nodes, each a real `media` role process
 * in its own network namespace (test/helpers/netns.ts), a control instance (the `control` role, in
 * this process: it writes the conference's state and places the halls) and redis in the root
 * namespace, fed by bench:fanout's generator and sink (child processes, SRTP plain transports).
 * A hall joins the node the control plane's placement names, and follows it when it moves (a
 * node lost): the harness plays each synthetic hall's browser. Measures a window (per node CPU
 * and packets, packets between nodes, whether the tracks crossing are exactly those needed),
 * switches across nodes, and failovers (SIGKILL a node, restart it, time until its halls receive
 * the programme again). Over 400 lines on purpose: one rig whose phases share its state.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../config/index.ts';
import { defaultPlan } from '../../../config/default-plan.ts';
import { startServer, type RunningServer } from '../../../server/app/server.ts';
import type { MediaWhere } from '../../../server/app/placement/MediaPlacement.ts';
import type { ConferencePlan } from '../../../server/protocol/plan.ts';
import { createNetRig, stopProcess, type NetHost, type NetRig } from '../../../test/helpers/netns.ts';
import { startRedisServer, type RedisServer } from '../../../test/integration/store/redis-server.ts';
import { Child, cpuSeconds, percentile, round, udpDropsByPort } from '../fanout/harness.ts';
import type { GeneratorHall, GeneratorStats, SinkReport } from '../fanout/protocol.ts';
import { SrtpSession, type SrtpSuite } from '../fanout/srtp.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../../..');
const SECRET = 'bench-cascade-node-secret-of-32-characters-or-more';
const CONFERENCE = 'bench-cascade';
const SUITE: SrtpSuite = 'AEAD_AES_128_GCM';
const CHAIR = 'p-20';

export interface CascadeOptions {
  nodes: number;
  /** Bridges of the plan taking part (212: all). */
  bridges: number;
  log?: (line: string) => void;
}

interface Peer {
  peerId: string;
  /** The key the control plane places it by: the bridge, or the staff console's role. */
  placeKey: string;
  bridgeId?: string;
  group: 'halls' | 'console' | 'wall';
  sinkPort: number;
  ssrcs?: Pick<GeneratorHall, 'mic' | 'cam'>;
  maxLayer: number;
  thumbnails?: string[];
}

export interface NodeCounters {
  out: number;
  pipeOut: number;
  pipeIn: number;
  in: number;
  consumers: number;
  pipeConsumers: number;
  workerPids: number[];
}

/** A media node process inside its host, driven over IPC. */
class NodeProcess {
  readonly #pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  #next = 1;
  readonly exited: Promise<void>;
  pid = 0;
  workerPids: number[] = [];

  constructor(readonly nodeId: string, readonly child: ChildProcess, onLayers: (peerId: string, max: number) => void) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (m: any) => {
      if (m.event === 'layers') return onLayers(m.peerId, m.maxLayer);
      const w = this.#pending.get(m.id);
      if (!w) return;
      this.#pending.delete(m.id);
      if (m.ok) w.resolve(m.data);
      else w.reject(new Error(`${nodeId}: ${m.error}`));
    });
    child.once('exit', () => {
      for (const w of this.#pending.values()) w.reject(new Error(`${nodeId} exited`));
      this.#pending.clear();
    });
  }

  static async start(host: NetHost, nodeId: string, env: Record<string, string>, onLayers: (peerId: string, max: number) => void): Promise<NodeProcess> {
    const child = host.spawn(process.execPath, ['--import', 'tsx', path.join(here, 'node.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        DIEMCAU_ROLE: 'media',
        DIEMCAU_NODE_ID: nodeId,
        DIEMCAU_NODE_SECRET: SECRET,
        DIEMCAU_CONFERENCE_ID: CONFERENCE,
        DIEMCAU_LISTEN_IP: host.ip,
        PORT: '3000',
        DIEMCAU_WORKERS: '1',
        DIEMCAU_LOG_LEVEL: 'error',
        ...env,
      },
    });
    const node = new NodeProcess(nodeId, child, onLayers);
    node.pid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${nodeId} did not start`)), 60_000);
      const onMessage = (m: any): void => {
        if (!m.ready) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m.pid as number);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${nodeId} exited with ${code}`));
      });
    });
    node.workerPids = (await node.call<NodeCounters>('counters')).workerPids;
    return node;
  }

  call<T = any>(op: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.nodeId}: ${op} timed out`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v)), reject: (e) => (clearTimeout(timer), reject(e)) });
      this.child.send({ id, op, args });
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}

/** The bridges taking part: the province, the district halls, then communes a district at a time in turn (so that a few still span districts). */
export function pickBridges(plan: ConferencePlan, n: number): string[] {
  const province = plan.bridges.filter((b) => b.tier === 'province').map((b) => b.id);
  const districts = plan.bridges.filter((b) => b.tier === 'district').map((b) => b.id);
  const communes = districts.map((d) => plan.bridges.filter((b) => b.parentId === d).map((b) => b.id));
  const order = [...province, ...districts];
  for (let i = 0; communes.some((c) => c.length > i); i++) for (const c of communes) if (c[i]) order.push(c[i]!);
  return order.slice(0, Math.min(n, order.length));
}

/** CPU seconds of a changing set of processes (nodes restart): each pid counted from when it was first seen (0 if born since the start) to its last reading. */
export class CpuTally {
  readonly #first = new Map<number, number>();
  readonly #last = new Map<number, number>();
  #started = false;

  sample(pids: number[]): void {
    for (const pid of pids) {
      let v: number;
      try {
        v = cpuSeconds(pid);
      } catch {
        continue;
      }
      if (!this.#first.has(pid)) this.#first.set(pid, this.#started ? 0 : v);
      this.#last.set(pid, v);
    }
    this.#started = true;
  }

  seconds(): number {
    let n = 0;
    for (const [pid, v] of this.#last) n += v - this.#first.get(pid)!;
    return n;
  }
}

/** Datagrams the kernel dropped at the sockets of a namespace (a node's own, read through its pid). */
function nsUdpDrops(pid: number): number {
  try {
    return fs.readFileSync(`/proc/${pid}/net/udp`, 'utf8').split('\n').slice(1).reduce((n, l) => {
      const f = l.trim().split(/\s+/);
      return f.length >= 13 ? n + Number(f[f.length - 1]) : n;
    }, 0);
  } catch {
    return 0;
  }
}

export class CascadeHarness {
  readonly options: CascadeOptions;
  rig!: NetRig;
  redis!: RedisServer;
  control!: RunningServer;
  readonly nodes = new Map<string, NodeProcess>();
  readonly #hosts = new Map<string, NetHost>();
  readonly #restarting = new Map<string, Promise<NodeProcess>>();
  generator!: Child;
  sink!: Child;
  readonly peers = new Map<string, Peer>();
  /** Where each peer is joined now. */
  readonly at = new Map<string, string>();
  readonly #moves = new Map<string, Promise<void>>();
  readonly moveErrors: string[] = [];
  readonly sinkPorts = new Set<number>();
  speaker = 'd-178';
  readonly chair = CHAIR;
  readonly #log: (line: string) => void;
  #vp8Pt = 101;

  constructor(options: CascadeOptions) {
    this.options = options;
    this.#log = options.log ?? ((l) => console.error(l));
  }

  nodeIds(): string[] {
    return Array.from({ length: this.options.nodes }, (_, i) => `node${i + 1}`);
  }

  async start(): Promise<void> {
    this.rig = await createNetRig();
    this.redis = await startRedisServer({ host: this.rig.rootIp });
    this.control = await startServer(loadConfig({}, { role: 'control', redisUrl: this.redis.url, conferenceId: CONFERENCE, listenIp: this.rig.rootIp, httpPort: 0, logLevel: 'error', nodeSecret: SECRET }), defaultPlan());
    for (const id of this.nodeIds()) this.#hosts.set(id, await this.rig.addHost(`m${id.slice(4)}`));
    const started = await Promise.all(this.nodeIds().map((id) => this.#startNode(id)));
    for (const n of started) this.nodes.set(n.nodeId, n);
    this.#vp8Pt = (await started[0]!.call<{ vp8Pt: number }>('caps')).vp8Pt;
    const ok = await this.control.conference.execute({ role: 'chair' }, { type: 'start_meeting' });
    if (!ok.ok) throw new Error(`start_meeting: ${JSON.stringify(ok)}`);

    const env = { DIEMCAU_BENCH_VIDEO_PTS: String(this.#vp8Pt), DIEMCAU_BENCH_BIND_IP: this.rig.rootIp };
    this.generator = new Child('generator.ts', env);
    this.sink = new Child('sink.ts', env);

    const plan = this.control.plan;
    const bridges = pickBridges(plan, this.options.bridges);
    if (!bridges.includes(this.speaker)) this.speaker = bridges.find((b) => b !== CHAIR)!;
    const list: Omit<Peer, 'sinkPort'>[] = bridges.map((b, i) => {
      const base = 0x1000_0000 + i * 16;
      return { peerId: `bench:${b}`, placeKey: b, bridgeId: b, group: 'halls', maxLayer: 0, ssrcs: { mic: { ssrc: base, pt: 111 }, cam: { ssrcs: [base + 1, base + 2, base + 3], pt: 96, rtxSsrcs: [base + 5, base + 6, base + 7], rtxPt: 97 } } };
    });
    const districts = bridges.filter((b) => b.startsWith('d-'));
    list.push({ peerId: 'bench:console', placeKey: 'chair', group: 'console', maxLayer: 0, thumbnails: [...districts, bridges.find((b) => b.startsWith('c-')) ?? CHAIR].slice(0, 12) });
    list.push({ peerId: 'bench:wall', placeKey: 'technician', group: 'wall', maxLayer: 0, thumbnails: bridges });
    const { ports } = await this.sink.request<{ ports: Record<string, number> }>({ type: 'bind', receivers: list.map((p) => ({ id: p.peerId, group: p.group, probe: false })) });
    for (const p of list) {
      this.peers.set(p.peerId, { ...p, sinkPort: ports[p.peerId]! });
      this.sinkPorts.add(ports[p.peerId]!);
    }

    // Placed by the control plane, then joined where it says (8 at a time); the generator starts with all of them.
    // The control instance hears the nodes' leases on redis's channel a moment after they are written: place
    // nothing before it sees every node (a peer placed earlier would find no node, or all of them on the first).
    const placement = this.control.conference.placement;
    const seen = Date.now();
    while (placement.nodes().filter((n) => n.alive).length < this.options.nodes) {
      if (Date.now() - seen > 15_000) throw new Error(`the control instance sees ${placement.nodes().filter((n) => n.alive).length} of ${this.options.nodes} media nodes after 15 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const halls: GeneratorHall[] = [];
    const queue = [...this.peers.values()];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        const where = await placement.where(p.placeKey);
        if (!where) throw new Error(`no node for ${p.placeKey}`);
        const hall = await this.#joinOn(p, where.nodeId);
        if (hall) halls.push(hall);
      }
    }));
    // The layers each hall was told to send while the others joined.
    await this.generator.request({ type: 'halls', halls: halls.map((x) => ({ ...x, maxLayer: this.peers.get(x.id)!.maxLayer })) }, 120_000);
    placement.on('moved', (where) => this.#onMoved(where));
    await this.grant(this.speaker);
    await this.settle();
    const count = new Map<string, number>();
    for (const n of this.at.values()) count.set(n, (count.get(n) ?? 0) + 1);
    this.#log(`cascade: ${this.peers.size} peers on ${[...count].map(([n, c]) => `${n} ${c}`).join(', ')}; speaker ${this.speaker} on ${this.nodeOf(this.speaker)}`);
  }

  #startNode(nodeId: string): Promise<NodeProcess> {
    return NodeProcess.start(this.#hosts.get(nodeId)!, nodeId, { REDIS_URL: this.redis.url, DIEMCAU_CONTROL_URLS: `http://${this.rig.rootIp}:${this.control.port}` }, (peerId, max) => {
      const p = this.peers.get(peerId);
      if (!p || this.at.get(peerId) !== nodeId) return;
      p.maxLayer = max;
      void this.generator.request({ type: 'layers', hall: peerId, maxLayer: max }).catch(() => undefined);
    });
  }

  /** The node process of a node id, once it runs (a restarted one when it is back). */
  async #node(nodeId: string): Promise<NodeProcess> {
    const restarting = this.#restarting.get(nodeId);
    if (restarting) return restarting;
    const n = this.nodes.get(nodeId);
    if (!n) throw new Error(`no node ${nodeId}`);
    return n;
  }

  /** Joins a peer on a node: its receive transport to its sink (re-keyed), its send transport for the generator; returns the generator's hall. */
  async #joinOn(p: Peer, nodeId: string): Promise<GeneratorHall | null> {
    const node = await this.#node(nodeId);
    const recvKey = SrtpSession.randomKey(SUITE);
    const sendKey = p.ssrcs ? SrtpSession.randomKey(SUITE) : undefined;
    // Where it is from now: the node's layer requests during the join are for it.
    this.at.set(p.peerId, nodeId);
    const r = await node.call<{ recv: { ip: string; port: number; sfuKey: string }; send?: { ip: string; port: number; sfuKey: string } }>('join', {
      peerId: p.peerId, bridgeId: p.bridgeId, group: p.group, sinkIp: this.rig.rootIp, sinkPort: p.sinkPort, suite: SUITE, recvKey, sendKey, ssrcs: p.ssrcs, thumbnails: p.thumbnails,
    });
    await this.sink.request({ type: 'keys', keys: [{ receiver: p.peerId, myKey: recvKey, sfuKey: r.recv.sfuKey, suite: SUITE, sfuIp: r.recv.ip, sfuPort: r.recv.port }] });
    if (!r.send || !p.ssrcs) return null;
    return { id: p.peerId, ip: r.send.ip, port: r.send.port, myKey: sendKey!, sfuKey: r.send.sfuKey, suite: SUITE, ...p.ssrcs, maxLayer: p.maxLayer };
  }

  /** A peer's placement moved (its node was lost): its "browser" opens the new node, as MediaLeg does. */
  #onMoved(where: MediaWhere): void {
    const p = [...this.peers.values()].find((x) => x.placeKey === where.peerKey);
    if (!p) return;
    const previous = this.#moves.get(p.peerId) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.at.get(p.peerId) === where.nodeId) return;
      const old = this.at.get(p.peerId);
      const oldNode = old ? this.nodes.get(old) : undefined;
      if (oldNode?.alive && !this.#restarting.has(old!)) await oldNode.call('leave', { peerId: p.peerId }).catch(() => undefined);
      const hall = await this.#joinOn(p, where.nodeId);
      if (hall) await this.generator.request({ type: 'halls', halls: [hall] });
    }).catch((error: unknown) => {
      this.moveErrors.push(`${p.peerId} → ${where.nodeId}: ${(error as Error).message}`);
    });
    this.#moves.set(p.peerId, next);
  }

  nodeOf(bridgeId: string): string | undefined {
    return this.at.get(`bench:${bridgeId}`);
  }

  /** Gives the floor to a hall as the chair does: the hall asks, the chair grants; resolves when the store has it. */
  async grant(bridgeId: string, preparedMs = 0, beforeGrant?: () => Promise<void>): Promise<number> {
    const c = this.control.conference;
    await c.bridgeConnected(bridgeId);
    const asked = await c.execute({ role: 'operator', bridgeId }, { type: 'request_floor', bridgeId, speakerName: 'Đại biểu', speakerTitle: 'Chủ tịch' });
    if (!asked.ok) throw new Error(`request_floor ${bridgeId}: ${JSON.stringify(asked)}`);
    if (preparedMs) await new Promise((r) => setTimeout(r, preparedMs));
    await beforeGrant?.();
    const t0 = Date.now();
    const granted = await c.execute({ role: 'chair' }, { type: 'grant_next' });
    if (!granted.ok) throw new Error(`grant_next ${bridgeId}: ${JSON.stringify(granted)}`);
    this.speaker = bridgeId;
    return t0;
  }

  /** Waits until the nodes' consumers hold their number for 1.5 s (consumers created under load ask for keyframes). */
  async settle(maxMs = 60_000): Promise<void> {
    for (let last = -1, stable = 0, waited = 0; stable < 3 && waited < maxMs; waited += 500) {
      await new Promise((r) => setTimeout(r, 500));
      const counts = await Promise.all([...this.nodes.values()].filter((n) => n.alive).map((n) => n.call<NodeCounters>('counters').then((c) => c.consumers + c.pipeConsumers).catch(() => -1)));
      const total = counts.reduce((a, b) => a + b, 0);
      stable = total === last ? stable + 1 : 0;
      last = total;
    }
  }

  /** Every pid of ours: this process (control + orchestration), redis, generator, sink, each node and its workers. */
  pids(): number[] {
    const out = [process.pid, this.redis.pid, this.generator.proc.pid!, this.sink.proc.pid!];
    for (const n of this.nodes.values()) if (n.alive) out.push(n.pid, ...n.workerPids);
    return out;
  }

  harnessPids(): number[] {
    return [this.generator.proc.pid!, this.sink.proc.pid!];
  }

  counters(): Promise<Record<string, NodeCounters>> {
    return Promise.all([...this.nodes.values()].map(async (n) => [n.nodeId, await n.call<NodeCounters>('counters')] as const)).then(Object.fromEntries);
  }

  nodeCpu(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.nodes.values()) out[n.nodeId] = [n.pid, ...n.workerPids].reduce((s, pid) => s + (n.alive ? safeCpu(pid) : 0), 0);
    return out;
  }

  nodeSocketDrops(): number {
    return [...this.nodes.values()].reduce((s, n) => s + (n.alive ? nsUdpDrops(n.pid) : 0), 0);
  }

  harnessSocketDrops(): number {
    let n = 0;
    for (const [port, d] of udpDropsByPort()) if (this.sinkPorts.has(port)) n += d;
    return n;
  }

  sinkReport(): Promise<SinkReport> {
    return this.sink.request<{ report: SinkReport }>({ type: 'report' }).then((m) => m.report);
  }

  generatorStats(): Promise<GeneratorStats> {
    return this.generator.request<{ stats: GeneratorStats }>({ type: 'stats' }).then((m) => m.stats);
  }

  /** The tracks crossing between nodes, against those the nodes' peers need from elsewhere (each once per node). */
  async crossing(): Promise<{ tracks: number; needed: number; equal: boolean; perNode: Record<string, { in: number; needed: number; duplicates: number }> }> {
    const perNode: Record<string, { in: number; needed: number; duplicates: number }> = {};
    let tracks = 0;
    let needed = 0;
    let equal = true;
    for (const n of this.nodes.values()) {
      const p = await n.call<{ links: Record<string, { out: string[]; in: string[] }>; neededRemote: string[] }>('pipes');
      const incoming = Object.values(p.links).flatMap((l) => l.in);
      const set = new Set(incoming);
      const want = new Set(p.neededRemote);
      perNode[n.nodeId] = { in: incoming.length, needed: want.size, duplicates: incoming.length - set.size };
      tracks += incoming.length;
      needed += want.size;
      // Every needed remote track comes in, once; a track no local peer consumes may still linger (pipes close after a linger).
      if (incoming.length !== set.size || [...want].some((t) => !set.has(t))) equal = false;
    }
    return { tracks, needed, equal: equal && tracks === needed, perNode };
  }

  watch(): Promise<unknown> {
    return this.sink.request({ type: 'watch' });
  }

  async arrivals(): Promise<Record<string, number | null>> {
    return (await this.sink.request<{ arrivals: Record<string, number | null> }>({ type: 'arrivals' })).arrivals;
  }

  /** Halls (receiving the programme) on a node now. */
  hallsOn(nodeId: string): string[] {
    return [...this.peers.values()].filter((p) => p.group === 'halls' && this.at.get(p.peerId) === nodeId).map((p) => p.peerId);
  }

  /**
   * SIGKILLs a node and starts it again at once (same id, same host); resolves when the process
   * is gone (the restart goes on: `restarted()`).
   */
  async kill(nodeId: string): Promise<number> {
    const n = this.nodes.get(nodeId)!;
    const killedAt = Date.now();
    process.kill(n.pid, 'SIGKILL');
    await n.exited;
    // Its workers lose their channel and exit; the restart must not find their ports taken.
    const restart = (async () => {
      for (let i = 0; i < 50 && n.workerPids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
      for (const pid of n.workerPids.filter(alive)) process.kill(pid, 'SIGKILL');
      const again = await this.#startNode(nodeId);
      this.nodes.set(nodeId, again);
      this.#restarting.delete(nodeId);
      return again;
    })();
    this.#restarting.set(nodeId, restart);
    return killedAt;
  }

  async restarted(nodeId: string): Promise<void> {
    await this.#restarting.get(nodeId);
  }

  async movesDone(): Promise<void> {
    await Promise.all(this.#moves.values());
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.generator?.stop(), this.sink?.stop()]);
    await Promise.allSettled([...this.#restarting.values()]);
    await Promise.allSettled([...this.nodes.values()].map(async (n) => {
      await stopProcess(n.child);
      for (const pid of n.workerPids.filter(alive)) process.kill(pid, 'SIGKILL');
    }));
    await this.control?.close().catch(() => undefined);
    await this.redis?.stop();
    await this.rig?.close();
  }
}

function safeCpu(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export { percentile, round };
