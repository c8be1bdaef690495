/**
 * bench:cascade's harness: the meeting over several media nodes, each a real `media` role process
 * in its own network namespace (test/helpers/netns.ts), a control instance (the `control` role, in
 * this process: it writes the conference's state and places the halls) and redis in the root
 * namespace, fed by bench:fanout's two sides of the synthetic load (fanout/sides.ts: the native
 * rtp-gen and rtp-sink by default, the Node generator and sinks with `harness: 'node'`; SRTP
 * plain transports, bound at the root namespace's bridge address).
 * A hall joins the node the control plane's placement names, and follows it when it moves (a
 * node lost): the harness plays each synthetic hall's browser. Measures a window (per node CPU
 * and packets, packets between nodes, whether the tracks crossing are exactly those needed),
 * switches across nodes, and failovers (SIGKILL a node, restart it, time until its halls receive
 * the programme again). Over 400 lines on purpose: one rig whose phases share its state.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
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
import { cpuSeconds, percentile, renice, round, udpDropsByPort } from '../fanout/harness.ts';
import type { GeneratorHall } from '../fanout/protocol.ts';
import { createSides, type GeneratorSide, type GeneratorSideStats, type HarnessImpl, type SinkSide, type SinkSideReport } from '../fanout/sides.ts';
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
  /** The synthetic load's two sides: native (rtp-gen, rtp-sink; default) or the Node ones. */
  harness?: HarnessImpl;
  /**
   * How a node is lost in the failovers: `sigkill` (the process killed; its kernel closes its
   * connections, so the control plane's lifeline knows at once) or `cut` (its host's link taken
   * down, the process left running: nothing closes, nothing answers, only the lease tells; the
   * process is killed and the link restored once its lease ended, and it starts again).
   */
  loss?: 'sigkill' | 'cut';
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

  /** `starting`: holds the process's pid until it is ready (its start-up CPU is ours, not other people's). */
  static async start(host: NetHost, nodeId: string, env: Record<string, string>, onLayers: (peerId: string, max: number) => void, starting?: Set<number>): Promise<NodeProcess> {
    const child = host.spawn(process.execPath, [...(process.env.DIEMCAU_BENCH_NODE_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.DIEMCAU_BENCH_NODE_PROF}`] : []), '--import', 'tsx', path.join(here, 'node.ts')], {
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
        // DIEMCAU_BENCH_NODE_LOG=warn: the nodes' warnings too (a reconciliation or a pipe that failed), on stdout.
        DIEMCAU_LOG_LEVEL: process.env.DIEMCAU_BENCH_NODE_LOG ?? 'error',
        ...env,
      },
    });
    const node = new NodeProcess(nodeId, child, onLayers);
    const spawned = child.pid;
    if (spawned && starting) {
      starting.add(spawned);
      child.once('exit', () => starting.delete(spawned));
    }
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
    if (spawned) starting?.delete(spawned);
    return node;
  }

  call<T = any>(op: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.nodeId}: ${op} timed out (${[this.pid, ...this.workerPids].map(procState).join(', ')})`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v)), reject: (e) => (clearTimeout(timer), reject(e)) });
      // A node process on its way out (its channel closed before its exit is seen) fails this call, not the harness (EPIPE).
      const fail = (error: Error): void => {
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(new Error(`${this.nodeId}: ${op}: ${error.message}`));
      };
      if (!this.child.connected) return fail(new Error('the node process is gone'));
      this.child.send({ id, op, args }, (error) => error && fail(error));
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

/** Datagrams the kernel dropped at the UDP sockets of a namespace (a node's own, read through its pid), per local port. */
function nsUdpDropsByPort(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const l of fs.readFileSync(`/proc/${pid}/net/udp`, 'utf8').split('\n').slice(1)) {
      const f = l.trim().split(/\s+/);
      if (f.length < 13) continue;
      const port = parseInt(f[1]!.split(':')[1]!, 16);
      out.set(port, (out.get(port) ?? 0) + Number(f[f.length - 1]));
    }
  } catch {
    // the node is gone: nothing to read
  }
  return out;
}

/** Drops at a node's sockets so far, per port, with what arrives at each port (node.ts `udpPorts`). */
export interface NodeDrops {
  /** The node process: a restarted node's sockets are new ones, counted from zero. */
  pid: number;
  byPort: Map<number, number>;
  kindOf: Map<number, string>;
}

/** What the nodes' sockets dropped between two readings, in all and by kind of socket (`other`: a port no transport has now). */
export function nodeDropsBetween(a: Record<string, NodeDrops>, b: Record<string, NodeDrops>): { total: number; byKind: Record<string, number>; perNode: Record<string, number> } {
  const byKind: Record<string, number> = {};
  const perNode: Record<string, number> = {};
  let total = 0;
  for (const [id, end] of Object.entries(b)) {
    const start = a[id]?.pid === end.pid ? a[id] : undefined;
    let n = 0;
    for (const [port, d] of end.byPort) {
      const delta = d - (start?.byPort.get(port) ?? 0);
      if (delta <= 0) continue;
      const kind = end.kindOf.get(port) ?? 'other';
      byKind[kind] = (byKind[kind] ?? 0) + delta;
      n += delta;
    }
    perNode[id] = n;
    total += n;
  }
  return { total, byKind, perNode };
}

export class CascadeHarness {
  readonly options: CascadeOptions;
  rig!: NetRig;
  redis!: RedisServer;
  control!: RunningServer;
  readonly nodes = new Map<string, NodeProcess>();
  readonly #hosts = new Map<string, NetHost>();
  readonly #restarting = new Map<string, Promise<NodeProcess>>();
  generator!: GeneratorSide;
  sinks!: SinkSide;
  readonly peers = new Map<string, Peer>();
  /** Where each peer is joined now. */
  readonly at = new Map<string, string>();
  readonly #moves = new Map<string, Promise<void>>();
  /** Node processes being started (a restart in the failover phase), with their children: their CPU is ours. */
  readonly #starting = new Set<number>();
  /** Peers whose node process died and that have not joined anywhere since (their session is gone). */
  readonly #lost = new Set<string>();
  readonly moveErrors: string[] = [];
  /**
   * Where a failover's time goes (bench:cascade's `kills`): when the control plane moved each
   * peer (its 'moved' event), when each peer last finished joining a node, when each node
   * process was last started again, and when the control instance last saw each node's lease end.
   */
  readonly movedAt = new Map<string, number>();
  readonly joinedAt = new Map<string, number>();
  readonly restartedAt = new Map<string, number>();
  readonly leaseEndedAt = new Map<string, number>();
  /** Every lease end the control instance saw, and every kill: a lease end without a kill before it is a live node lost. */
  readonly leaseEnds: { nodeId: string; at: number }[] = [];
  readonly kills: { nodeId: string; at: number }[] = [];
  /** The harness's own UDP ports in the root namespace (sinks, generator): their drops are the harness's. */
  readonly ownPorts = new Set<number>();
  /** Each live node process's and worker's CPU seconds at the last kill, by node pid (speakerTrace). */
  readonly #cpuAtKill = new Map<number, Map<number, number>>();
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

    ({ generator: this.generator, sinks: this.sinks } = createSides(this.options.harness ?? 'native', [this.#vp8Pt], { bindIp: this.rig.rootIp }));
    // The synthetic halls stand in for 212 machines of their own: on this one, which the three
    // nodes keep busy (both cores ~95 %), they must send and read on time. The Node ones get a
    // higher CFS weight, as bench:fanout's pinned harness does; a weight still left the native
    // generator's lateness p99 at 6-8 ms behind the nodes' time slices, so the C helpers (one
    // thread each, asleep in epoll between 1 ms ticks, ~20 % of a core each) run SCHED_FIFO:
    // they take the CPU when they wake, and their CPU is counted and limited as before
    // (DIEMCAU_BENCH_NO_NICE=1: neither).
    if (!process.env.DIEMCAU_BENCH_NO_NICE) {
      for (const pid of this.harnessPids()) {
        if ((this.options.harness ?? 'native') !== 'native' || !realtime(pid)) renice(pid, -5);
      }
    }

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
    const ports = await this.sinks.bind(list.map((p) => ({ id: p.peerId, group: p.group, probe: false })));
    for (const p of list) {
      this.peers.set(p.peerId, { ...p, sinkPort: ports[p.peerId]! });
      this.ownPorts.add(ports[p.peerId]!);
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
    // When the control instance sees a node's lease end (its view of live nodes changes), from now on.
    let live = new Set(placement.nodes().filter((n) => n.alive).map((n) => n.nodeId));
    placement.on('changed', () => {
      const now = new Set(placement.nodes().filter((n) => n.alive).map((n) => n.nodeId));
      for (const id of live) {
        if (now.has(id)) continue;
        this.leaseEndedAt.set(id, Date.now());
        this.leaseEnds.push({ nodeId: id, at: Date.now() });
        const kill = this.kills.filter((k) => k.nodeId === id).pop();
        // Ended by the control plane's lifeline (server/core/node-death.ts), or by the lease running out.
        const death = this.control.lifelines?.deaths.filter((d) => d.nodeId === id && d.at >= (kill?.at ?? 0)).pop();
        const by = death ? `by its lifeline (${death.why}; ${death.afterCloseMs ?? '-'} ms after it closed)` : 'by its lease';
        this.#log(`cascade: the control instance saw ${id}'s lease end${kill ? ` ${Date.now() - kill.at} ms after its last kill` : ' (never killed)'}, ${by}`);
      }
      live = now;
    });
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
    await this.generator.addHalls(halls.map((x) => ({ ...x, maxLayer: this.peers.get(x.id)!.maxLayer })));
    for (const port of (await this.generator.stats()).ports ?? []) this.ownPorts.add(port);
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
      void this.generator.setLayers(peerId, max).catch(() => undefined);
    }, this.#starting);
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
    await this.sinks.keys([{ receiver: p.peerId, myKey: recvKey, sfuKey: r.recv.sfuKey, suite: SUITE, sfuIp: r.recv.ip, sfuPort: r.recv.port }]);
    if (!r.send || !p.ssrcs) return null;
    return { id: p.peerId, ip: r.send.ip, port: r.send.port, myKey: sendKey!, sfuKey: r.send.sfuKey, suite: SUITE, ...p.ssrcs, maxLayer: p.maxLayer };
  }

  /** A peer's placement moved (its node was lost): its "browser" opens the new node, as MediaLeg does. */
  #onMoved(where: MediaWhere): void {
    const p = [...this.peers.values()].find((x) => x.placeKey === where.peerKey);
    if (!p) return;
    this.movedAt.set(p.peerId, Date.now());
    this.#follow(p, async () => where.nodeId);
  }

  /**
   * A peer's "browser" goes where `target` says, after whatever it was doing: leaves its node (if
   * that still serves it) and joins there, re-keying its sink and moving its generator hall. A
   * peer already there stays, unless its node process died since it joined (its session is gone).
   */
  #follow(p: Peer, target: () => Promise<string | null>): void {
    const previous = this.#moves.get(p.peerId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const nodeId = await target();
      if (!nodeId) throw new Error('placed nowhere');
      const old = this.at.get(p.peerId);
      const lost = this.#lost.has(p.peerId);
      if (old === nodeId && !lost) return;
      const oldNode = old ? this.nodes.get(old) : undefined;
      if (!lost && oldNode?.alive && !this.#restarting.has(old!)) await oldNode.call('leave', { peerId: p.peerId }).catch(() => undefined);
      const hall = await this.#joinOn(p, nodeId);
      this.#lost.delete(p.peerId);
      // The layers the new node asked for so far (its requests during the join are for this hall).
      if (hall) await this.generator.addHalls([{ ...hall, maxLayer: p.maxLayer }]);
      this.joinedAt.set(p.peerId, Date.now());
    }).catch((error: unknown) => {
      this.moveErrors.push(`${p.peerId} → ${this.at.get(p.peerId)}: ${(error as Error).message}`);
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

  /** Every pid of ours: this process (control + orchestration), redis, generator, sinks, each node and its workers (starting ones too). */
  pids(): number[] {
    const out = [process.pid, this.redis.pid, ...this.harnessPids()];
    for (const n of this.nodes.values()) if (n.alive) out.push(n.pid, ...n.workerPids);
    for (const pid of this.#starting) out.push(pid, ...childrenOf(pid));
    return out;
  }

  harnessPids(): number[] {
    return this.harnessProcesses().map((p) => p.pid);
  }

  /** The synthetic load's processes, named as bench:fanout names them (generator, sink, probe sink). */
  harnessProcesses(): { name: string; pid: number }[] {
    return [...this.generator.pids.map((pid) => ({ name: 'generator', pid })), ...this.sinks.pids.map((pid, i) => ({ name: i === 0 ? 'sink' : 'probe sink', pid }))];
  }

  counters(): Promise<Record<string, NodeCounters>> {
    return Promise.all([...this.nodes.values()].map(async (n) => [n.nodeId, await n.call<NodeCounters>('counters')] as const)).then(Object.fromEntries);
  }

  nodeCpu(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.nodes.values()) out[n.nodeId] = [n.pid, ...n.workerPids].reduce((s, pid) => s + (n.alive ? safeCpu(pid) : 0), 0);
    return out;
  }

  /** Drops so far at each live node's sockets, per port, and what arrives at each port. */
  async nodeDrops(): Promise<Record<string, NodeDrops>> {
    const out: Record<string, NodeDrops> = {};
    await Promise.all([...this.nodes.values()].filter((n) => n.alive).map(async (n) => {
      const ports = await n.call<Record<string, number[]>>('udpPorts').catch(() => ({}) as Record<string, number[]>);
      const kindOf = new Map<number, string>();
      for (const [kind, list] of Object.entries(ports)) for (const port of list) kindOf.set(port, kind);
      out[n.nodeId] = { pid: n.pid, byPort: nsUdpDropsByPort(n.pid), kindOf };
    }));
    return out;
  }

  /** Drops so far at the harness's own sockets, from /proc/net/udp (the native sides also count theirs: SO_RXQ_OVFL). */
  harnessSocketDrops(): number {
    let n = 0;
    for (const [port, d] of udpDropsByPort()) if (this.ownPorts.has(port)) n += d;
    return n;
  }

  /** The sinks' window since the last mark: loss per group, their socket drops and read delay (native) or loop delay (Node). */
  sinkReport(): Promise<SinkSideReport> {
    return this.sinks.report();
  }

  /** The generator's counters; its lateness, skips and socket drops since the previous call. */
  generatorStats(): Promise<GeneratorSideStats> {
    return this.generator.stats();
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

  watch(): Promise<void> {
    return this.sinks.watch();
  }

  arrivals(): Promise<Record<string, number | null>> {
    return this.sinks.arrivals();
  }

  /** Halls (receiving the programme) on a node now. */
  hallsOn(nodeId: string): string[] {
    return [...this.peers.values()].filter((p) => p.group === 'halls' && this.at.get(p.peerId) === nodeId).map((p) => p.peerId);
  }

  /**
   * SIGKILLs a node and starts it again at once (same id, same host); resolves when the process
   * is gone (the restart goes on: `restarted()`). Its peers' "browsers" lose their node: each
   * opens the node its placement names, when the control plane moves it (the lease ended before
   * the node was back) or, once the node answers again, there if the placement still names it
   * (the restart beat the 3 s lease), as a page's MediaClient asks again when its node went away.
   */
  async kill(nodeId: string): Promise<number> {
    const n = this.nodes.get(nodeId)!;
    for (const x of this.nodes.values()) if (x.alive) this.#cpuAtKill.set(x.pid, new Map([x.pid, ...x.workerPids].map((pid) => [pid, safeCpu(pid)])));
    const killedAt = Date.now();
    this.kills.push({ nodeId, at: killedAt });
    for (const [peerId, at] of this.at) if (at === nodeId) this.#lost.add(peerId);
    const cut = this.options.loss === 'cut';
    const host = this.#hosts.get(nodeId)!;
    // A cut: the host's cable pulled (the time counts from before the command), the process left running.
    if (cut) await host.setLink(false);
    else {
      process.kill(n.pid, 'SIGKILL');
      await n.exited;
    }
    // Its workers lose their channel and exit; the restart must not find their ports taken.
    const restart = (async () => {
      if (cut) {
        // Back once the control plane took it for lost (its lease ended), as a host repaired: killed first, so that it
        // does not renew the old run's lease when its link is back, then started again.
        for (let i = 0; i < 200 && !((this.leaseEndedAt.get(nodeId) ?? 0) >= killedAt); i++) await new Promise((r) => setTimeout(r, 50));
        process.kill(n.pid, 'SIGKILL');
        await n.exited;
        await host.setLink(true);
      }
      for (let i = 0; i < 50 && n.workerPids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
      for (const pid of n.workerPids.filter(alive)) process.kill(pid, 'SIGKILL');
      const again = await this.#startNode(nodeId);
      this.restartedAt.set(nodeId, Date.now());
      this.nodes.set(nodeId, again);
      this.#restarting.delete(nodeId);
      const placement = this.control.conference.placement;
      for (const p of this.peers.values()) {
        if (this.#lost.has(p.peerId) && this.at.get(p.peerId) === nodeId) this.#follow(p, async () => (await placement.where(p.placeKey))?.nodeId ?? null);
      }
      return again;
    })();
    this.#restarting.set(nodeId, restart);
    return killedAt;
  }

  /**
   * The way of the speaker's camera since `since` (a kill), as each live node traced it (node.ts
   * `trace`), in seconds from `since`: on its home node the producer's keyframes (`kf`) and PLIs
   * sent to the hall (`pli-out`), PLIs from other nodes at its pipe consumers (`pli-in`); on the
   * others when the session was handed it (`remote`), its pipe producer (`pipe-in`), the keyframes
   * through the pipe (`kf-in`); everywhere the peers' consumers made and resumed.
   */
  async speakerTrace(since: number): Promise<string> {
    const live = [...this.nodes.values()].filter((n) => n.alive);
    const cams = await Promise.all(live.map((n) => n.call<string | null>('camOf', { bridgeId: this.speaker }).catch(() => null)));
    const home = cams.findIndex((c) => c !== null);
    if (home < 0) return `no camera of ${this.speaker}`;
    const producerId = cams[home]!;
    const parts: string[] = [];
    for (const [i, n] of live.entries()) {
      const events = await n.call<{ t: number; ev: string }[]>('trace', { since, producerId }).catch(() => []);
      const by = new Map<string, number[]>();
      const lags: string[] = [];
      for (const e of events) {
        if (e.ev.startsWith('lag')) lags.push(`${round((e.t - since) / 1000, 2)}:${e.ev.slice(3)}ms`);
        else by.set(e.ev, [...(by.get(e.ev) ?? []), round((e.t - since) / 1000, 3)]);
      }
      const cpu0 = this.#cpuAtKill.get(n.pid);
      const wall = (Date.now() - since) / 1000;
      const share = (pid: number): string => (cpu0?.has(pid) ? `${Math.round(((safeCpu(pid) - cpu0.get(pid)!) / wall) * 100)}%` : '?');
      if (cpu0) by.set(`cpu process ${share(n.pid)} worker ${n.workerPids.map(share).join('/')} over ${round(wall, 1)} s`, []);
      if (lags.length) by.set(`loop lag ${lags.slice(0, 12).join(' ')}${lags.length > 12 ? ` … (${lags.length})` : ''}`, []);
      const show = (ts: number[]): string => (ts.length <= 5 ? ts.join(' ') : `${ts.slice(0, 4).join(' ')} … ${ts[ts.length - 1]} (${ts.length})`);
      parts.push(`${n.nodeId}${i === home ? ' (home)' : ''} ${this.hallsOn(n.nodeId).length} halls: ${[...by].map(([ev, ts]) => (ts.length ? `${ev} ${show(ts)}` : ev)).join('; ')}`);
    }
    return parts.join(' | ');
  }

  /** Lease ends of nodes not killed in the 10 s before: live nodes the control plane took for dead. */
  liveNodesLost(): { nodeId: string; at: number }[] {
    return this.leaseEnds.filter((e) => !this.kills.some((k) => k.nodeId === e.nodeId && k.at <= e.at && e.at - k.at <= 10_000));
  }

  async restarted(nodeId: string): Promise<void> {
    await this.#restarting.get(nodeId);
  }

  async movesDone(): Promise<void> {
    await Promise.all(this.#moves.values());
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.generator?.close(), this.sinks?.close()]);
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

/** A process's state and CPU seconds, for a call that timed out: is the node or its worker spinning, asleep, or gone? */
function procState(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid} ${f[0]} ${round(cpuSeconds(pid), 1)} s cpu`;
  } catch {
    return `${pid} gone`;
  }
}

function safeCpu(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

/** SCHED_FIFO (priority 10) for a single-threaded native helper; false where it cannot (no chrt, not permitted). */
function realtime(pid: number): boolean {
  try {
    execFileSync('chrt', ['-f', '-p', '10', String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The child processes of a process (its main thread's: a node's mediasoup worker). */
function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
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
