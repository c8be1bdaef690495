/**
 * npm run bench:cascade — the 212-bridge meeting over 3 media nodes, each a real `media` role
 * process in its own network namespace, with a control instance and redis, fed by bench:fanout's
 * two sides of the synthetic load (native rtp-gen and rtp-sink by default; see cascade/harness.ts).
 * Measures, one after the other:
 *   1. a window: per node CPU (node process + its workers, % of one core) and packets (out to
 *      halls, in from halls, into and out of pipes), packets between nodes, loss at the sinks, and
 *      whether the tracks crossing between nodes are exactly those the nodes' peers need from
 *      elsewhere, each once per node (the goal: producers × nodes, never per hall);
 *   2. switches across nodes: the floor granted (a prepared switch, as the queue does) to a hall
 *      on another node than the previous speaker's; time from the grant to the new speaker's first
 *      video packet at the last hall on another node than the speaker's (switch_p95_ms over the
 *      switches) and on the same node;
 *   3. failovers: SIGKILL the node with most halls, start it again at once; time from the kill
 *      until the last of its halls (all halls when the speaker's own was there) receives the
 *      programme again, through the control plane's placement moving them to a live node.
 * Valid or nothing (issue 14): per phase, the harness's headroom as bench:fanout measures it
 * (fanout/headroom.ts: each harness process's CPU, drops at its sockets, the sink's read delay or
 * the Node sink's loop delay, the generator's lateness and skips) and the load of other processes
 * on the machine; a run that did not keep up prints `"valid": false` with the reasons (figures
 * only under `not_valid_figures`) and exits 3. The failover phase is judged on other processes'
 * CPU, the harness's CPU and its socket drops; its generator lateness and sink read delay are
 * recorded, not limits: a failover is seconds long and restarts node processes on purpose.
 *
 * Options: --quick (12 bridges, 2 kills, 2 switches, 3 s window) --nodes N (3) --bridges N (212)
 *          --kills N (10) --switches N (6) --seconds N (window, 15) --warmup N (5)
 *          --harness native|node|node-gen (the synthetic load: C helpers, default; the first,
 *          Node one; the Node generator with the C sink)
 *          --cut (a failover's node is lost by cutting its host's link, the process left running:
 *          a host lost to the network, known only by its lease; default: SIGKILL, known at once
 *          by the control plane's lifeline)
 * Needs root (network namespaces), redis-server, and setup's mediasoup worker.
 */
import os from 'node:os';
import { CascadeHarness, CpuTally, nodeDropsBetween, percentile, round, type NodeDrops } from './cascade/harness.ts';
import { cpuSeconds as cpuOf, type HarnessHeadroom } from './fanout/harness.ts';
import { windowValidity } from './fanout/headroom.ts';
import { FPS } from './fanout/media.ts';
import { parseHarnessImpl, type GeneratorSideStats, type SinkSideReport } from './fanout/sides.ts';
import { LIMITS, Validity, coreBusyPct, coreSample, machineBusyPctOfCore, machineFacts, verdictLine, type CoreSample } from './validity.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a phase measured about the harness and the nodes' sockets. */
interface PhaseEnd {
  wall: number;
  headroom: HarnessHeadroom;
  /** Generator + sinks CPU over the phase, % of one core. */
  harnessCpuPct: number;
  sink: SinkSideReport;
  gen: GeneratorSideStats;
  nodeDrops: ReturnType<typeof nodeDropsBetween>;
}

/**
 * A phase of the run: samples our processes' CPU and the machine's throughout (what others used
 * is the rest), and opens the harness's own windows at its start (the sinks' mark, the
 * generator's lateness and drops since the previous stats) so that its end reads them over the
 * phase alone.
 */
class Phase {
  readonly #tally = new CpuTally();
  readonly #harness = new CpuTally();
  readonly #cpu0: Map<number, number>;
  readonly #cores: CoreSample;
  readonly #t0: number;
  readonly #timer: NodeJS.Timeout;

  private constructor(readonly h: CascadeHarness, readonly gen0: GeneratorSideStats, readonly ownDrops0: number, readonly nodeDrops0: Record<string, NodeDrops>) {
    this.#cpu0 = new Map(h.harnessPids().map((p) => [p, safe(() => cpuOf(p))]));
    this.#cores = coreSample();
    this.#t0 = performance.now();
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 500);
  }

  static async start(h: CascadeHarness): Promise<Phase> {
    const [gen0] = await Promise.all([h.generatorStats(), h.sinks.mark()]);
    // The Node generator opens a socket of its own for a hall that moved: its drops are the harness's too.
    for (const port of gen0.ports ?? []) h.ownPorts.add(port);
    return new Phase(h, gen0, h.harnessSocketDrops(), await h.nodeDrops());
  }

  #sample(): void {
    this.#tally.sample(this.h.pids());
    this.#harness.sample(this.h.harnessPids());
  }

  async end(): Promise<PhaseEnd> {
    clearInterval(this.#timer);
    this.#sample();
    const wall = (performance.now() - this.#t0) / 1000;
    const cores1 = coreSample();
    const processes = this.h.harnessProcesses().map((p) => ({ ...p, cpuPct: round(((safe(() => cpuOf(p.pid)) - (this.#cpu0.get(p.pid) ?? 0)) / wall) * 100, 1) }));
    const ownDrops = this.h.harnessSocketDrops() - this.ownDrops0;
    const [sink, gen, nodeDrops1] = await Promise.all([this.h.sinkReport(), this.h.generatorStats(), this.h.nodeDrops()]);
    const machine = machineBusyPctOfCore(this.#cores, cores1, wall);
    const headroom: HarnessHeadroom = {
      impl: this.h.options.harness ?? 'native',
      pinned: false,
      harnessCpus: [],
      sfuCpus: [],
      processes,
      coreBusyPct: coreBusyPct(this.#cores, cores1),
      othersCpuPct: round(machine - (this.#tally.seconds() / wall) * 100, 1),
      ownSocketDrops: ownDrops,
      sinkSocketDrops: sink.socketDrops,
      generatorSocketDrops: gen.socketDrops,
      // Other people's sockets are not told apart here (the nodes' are, below).
      otherSocketDrops: 0,
      sinkReadDelayP99Ms: sink.readDelayP99Ms === null ? null : round(sink.readDelayP99Ms, 3),
      sinkReadDelayMaxMs: sink.readDelayMaxMs === null ? null : round(sink.readDelayMaxMs, 3),
      sinkLoopDelayP99Ms: sink.loopDelayP99Ms === null ? null : round(sink.loopDelayP99Ms, 3),
      generatorLateP50Ms: round(gen.lateP50Ms, 3),
      generatorLateP99Ms: round(gen.lateP99Ms, 3),
      generatorLateMaxMs: round(gen.lateMaxMs, 3),
      generatorSkipped: gen.skipped,
      sourceFps: FPS,
    };
    return { wall, headroom, harnessCpuPct: round((this.#harness.seconds() / wall) * 100, 1), sink, gen, nodeDrops: nodeDropsBetween(this.nodeDrops0, nodeDrops1) };
  }
}

/**
 * The verdict on a phase: everything bench:fanout checks of a window (fanout/headroom.ts), or,
 * for the failover phase (`full: false`), other processes' CPU, the harness's CPU and its socket
 * drops, with its lateness and read delay recorded beside them. Prefixed with the phase's name.
 */
function phaseValidity(v: Validity, name: string, p: PhaseEnd, full: boolean): void {
  const h = p.headroom;
  if (full) {
    v.merge(name, windowValidity({ headroom: h, browsers: [], sfuCores: 0, browsersCpuPct: 0 }));
    // The Node generator's event loop, as the first bench:cascade checked it (its lateness above is checked too).
    if (p.gen.socketDrops === null) v.atMost(`${name}_generator_loop_p99_ms`, round(p.gen.loopDelayP99Ms), LIMITS.generatorLateP99Ms, `${name}: the Node generator's event loop delay p99`, ' ms');
  } else {
    v.atMost(`${name}_others_cpu_pct`, h.othersCpuPct, LIMITS.othersCpuPct, `${name}: other processes on the machine (% of a core)`, '%');
    for (const x of h.processes) v.atMost(`${name}_${x.name.replace(/ /g, '_')}_cpu_pct`, x.cpuPct, LIMITS.harnessProcessCpuPct, `${name}: the harness's ${x.name} process used its core`, ' %');
    v.atMost(`${name}_harness_socket_drops`, h.ownSocketDrops, LIMITS.harnessSocketDrops, `${name}: datagrams dropped at the harness's own sockets (/proc/net/udp)`);
    if (h.sinkSocketDrops !== null) v.atMost(`${name}_sink_socket_drops`, h.sinkSocketDrops, LIMITS.harnessSocketDrops, `${name}: datagrams dropped at the sink's sockets (SO_RXQ_OVFL)`);
    if (h.generatorSocketDrops !== null) v.atMost(`${name}_generator_socket_drops`, h.generatorSocketDrops, LIMITS.harnessSocketDrops, `${name}: datagrams dropped at the generator's socket (SO_RXQ_OVFL)`);
    v.headroom[`${name}_generator_late_p99_ms`] = h.generatorLateP99Ms;
    v.headroom[`${name}_generator_late_max_ms`] = h.generatorLateMaxMs;
    v.headroom[`${name}_generator_skipped`] = h.generatorSkipped;
    v.headroom[`${name}_sink_read_delay_p99_ms`] = h.sinkReadDelayP99Ms ?? h.sinkLoopDelayP99Ms;
  }
  // Generator + sinks together, as the first bench:cascade checked it.
  v.atMost(`${name}_harness_cpu_pct`, p.harnessCpuPct, LIMITS.harnessProcessCpuPct * 2, `${name}: generator + sink CPU (% of a core)`, '%');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const nodes = arg('nodes', 3);
  const bridges = arg('bridges', quick ? 12 : 212);
  const kills = arg('kills', quick ? 2 : 10);
  const switches = arg('switches', quick ? 2 : 6);
  const seconds = arg('seconds', quick ? 3 : 15);
  const warmup = arg('warmup', quick ? 1 : 5);
  const i = process.argv.indexOf('--harness');
  const harness = parseHarnessImpl(i >= 0 ? process.argv[i + 1] : undefined);
  const facts = machineFacts();
  const nodeLoss = process.argv.includes('--cut') ? 'cut' : 'sigkill';
  const h = new CascadeHarness({ nodes, bridges, harness, loss: nodeLoss });
  // Interrupted (a timeout, ^C): nothing of the run is left behind (node processes, redis, namespaces).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void h.close().finally(() => process.exit(130)));
  const v = new Validity();
  try {
    await h.start();
    await sleep(warmup * 1000);

    // 1. The window.
    const phase = await Phase.start(h);
    const c0 = await h.counters();
    const cpu0 = h.nodeCpu();
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const wall = (performance.now() - t0) / 1000;
    const cpu1 = h.nodeCpu();
    const c1 = await h.counters();
    const win = await phase.end();
    phaseValidity(v, 'window', win, true);
    const ids = Object.keys(c1).sort();
    const rate = (k: 'out' | 'in' | 'pipeOut' | 'pipeIn', id: string): number => Math.round((c1[id]![k] - c0[id]![k]) / wall);
    const perNode = Object.fromEntries(ids.map((id) => [id, { cpu_pct: round(((cpu1[id]! - cpu0[id]!) / wall) * 100, 1), out_pps: rate('out', id), in_pps: rate('in', id), pipe_out_pps: rate('pipeOut', id), pipe_in_pps: rate('pipeIn', id), halls: h.hallsOn(id).length, consumers: c1[id]!.consumers, socket_drops: win.nodeDrops.perNode[id] ?? 0 }]));
    const crossing = await h.crossing();
    const lost = Object.values(win.sink.groups).reduce((n, g) => n + g.lost, 0);
    const expected = Object.values(win.sink.groups).reduce((n, g) => n + g.expected, 0);
    const generatorPps = Math.round((win.gen.packets - phase.gen0.packets) / win.wall);
    console.error(JSON.stringify({ window: { seconds: round(wall, 1), perNode, crossing, generatorPps, lost, expected, harness: win.headroom, nodeDrops: win.nodeDrops } }));

    // 2. Switches across nodes (prepared: the hall asks, the nodes prepare it as next, the chair grants 1.5 s later).
    const switchMs: number[] = [];
    const sameNodeMs: number[] = [];
    const switchPhase = await Phase.start(h);
    // Not the chair's hall: it is on air whenever nobody holds the floor, and a speaker's own hall watches it.
    const publishers = [...h.peers.values()].filter((p) => p.group === 'halls' && p.bridgeId !== h.chair).map((p) => p.bridgeId!);
    for (let i = 0; i < switches; i++) {
      const from = h.nodeOf(h.speaker);
      const to = publishers.filter((b) => b !== h.speaker && h.nodeOf(b) !== from)[(i * 7) % Math.max(1, publishers.length - 1)] ?? publishers.find((b) => b !== h.speaker && h.nodeOf(b) !== from);
      if (!to) break;
      const toNode = h.nodeOf(to);
      const t0 = await h.grant(to, 1500, () => h.watch());
      const receivers = [...h.peers.values()].filter((p) => p.group === 'halls' && p.bridgeId !== to);
      const arrived = await until(h, receivers.map((p) => p.peerId), 5000);
      const across = receivers.filter((p) => h.at.get(p.peerId) !== toNode).map((p) => arrived[p.peerId]);
      const same = receivers.filter((p) => h.at.get(p.peerId) === toNode).map((p) => arrived[p.peerId]);
      const last = (xs: (number | null | undefined)[]): number | null => (xs.some((x) => x == null) ? null : xs.length ? Math.max(...(xs as number[])) - t0 : null);
      const a = last(across);
      const s = last(same);
      console.error(`switch ${h.speaker} (${toNode}) ← from ${from}: last hall on another node ${a ?? 'never'} ms, on its node ${s ?? '-'} ms`);
      switchMs.push(a ?? Infinity);
      if (s !== null) sameNodeMs.push(s);
      await sleep(1000);
    }
    const sw = await switchPhase.end();
    phaseValidity(v, 'switches', sw, true);

    // 3. Failovers.
    const failoverS: number[] = [];
    const failPhase = await Phase.start(h);
    const kills_: ({ node: string; halls: number; speakerThere: boolean; seconds: number | null } & KillSteps)[] = [];
    for (let k = 0; k < kills; k++) {
      const victim = h.nodeIds().map((id) => ({ id, n: h.hallsOn(id).length })).sort((a, b) => b.n - a.n)[0]!.id;
      const speakerThere = h.nodeOf(h.speaker) === victim;
      const affected = speakerThere ? [...h.peers.values()].filter((p) => p.group === 'halls' && p.bridgeId !== h.speaker).map((p) => p.peerId) : h.hallsOn(victim).filter((p) => p !== `bench:${h.speaker}`);
      const onVictim = [...h.peers.keys()].filter((p) => h.at.get(p) === victim);
      await h.watch();
      const killedAt = await h.kill(victim);
      const arrived = await until(h, affected, 20_000);
      const times = affected.map((p) => arrived[p]);
      const secs = times.some((t) => t == null) ? null : round((Math.max(...(times as number[])) - killedAt) / 1000, 2);
      console.error(`kill ${k + 1}: ${victim} (${affected.length} halls${speakerThere ? ', the speaker\'s among them' : ''}) → programme again at the last of them after ${secs ?? 'never (20 s)'} s`);
      if (secs === null) console.error(`kill ${k + 1}: no new programme stream at ${affected.filter((p) => arrived[p] == null).join(', ')}`);
      await h.restarted(victim);
      await h.movesDone();
      const steps = killSteps(h, victim, killedAt, onVictim, speakerThere ? `bench:${h.speaker}` : null, affected.map((p) => arrived[p]));
      console.error(`kill ${k + 1}: ${JSON.stringify(steps)}`);
      console.error(`kill ${k + 1}: the speaker's camera: ${await h.speakerTrace(killedAt)}`);
      // Halls that received the programme again more than 1 s after the first one: which, where, when.
      const first = steps.first_arrival_s === null ? null : killedAt + steps.first_arrival_s * 1000;
      const late = first === null ? [] : affected.filter((p) => (arrived[p] ?? Infinity) - first > 1000);
      if (late.length) console.error(`kill ${k + 1}: ${late.length} late: ${late.slice(0, 8).map((p) => `${p} on ${h.at.get(p)}${h.at.get(p) === victim ? ' (its restarted node)' : ''} ${arrived[p] == null ? 'never' : `${round((arrived[p]! - killedAt) / 1000, 2)} s`}`).join(', ')}`);
      kills_.push({ node: victim, halls: affected.length, speakerThere, seconds: secs, ...steps });
      failoverS.push(secs ?? Infinity);
      await h.settle(20_000);
    }
    const fo = await failPhase.end();
    phaseValidity(v, 'failover', fo, false);
    if (h.moveErrors.length) v.fail(`halls could not follow their placement: ${h.moveErrors.slice(0, 3).join('; ')}`);

    /** A percentile; null when there is none or it is a switch or failover that never completed. */
    const pct = (xs: number[], p: number, digits: number): number | null => (xs.length && Number.isFinite(percentile(xs, p)) ? round(percentile(xs, p), digits) : null);
    const interNodePps = ids.reduce((n, id) => n + perNode[id]!.pipe_out_pps, 0);
    const figures = {
      inter_node_pps: interNodePps,
      inter_node_tracks: crossing.tracks,
      inter_node_tracks_needed: crossing.needed,
      inter_node_equals_producers_times_nodes: crossing.equal,
      cpu_per_node_pct: ids.map((id) => perNode[id]!.cpu_pct),
      out_pps_per_node: ids.map((id) => perNode[id]!.out_pps),
      in_pps_per_node: ids.map((id) => perNode[id]!.in_pps),
      halls_per_node: ids.map((id) => perNode[id]!.halls),
      per_node: perNode,
      loss_pct: round((lost / Math.max(1, expected)) * 100, 3),
      // Datagrams the nodes' own sockets dropped (their worker did not read in time), in the window,
      // by what arrives at the socket (pipe_in: tracks from other nodes; hall_in: a hall's media).
      sfu_socket_drops: win.nodeDrops.total,
      sfu_socket_drops_by_kind: win.nodeDrops.byKind,
      sfu_socket_drops_switches: sw.nodeDrops.total,
      sfu_socket_drops_failover: fo.nodeDrops.total,
      generator_pps: generatorPps,
      harness_cpu_pct: win.harnessCpuPct,
      switch_p50_ms: pct(switchMs, 50, 1),
      switch_p95_ms: pct(switchMs, 95, 1),
      switch_same_node_p95_ms: pct(sameNodeMs, 95, 1),
      switches: switchMs.length,
      failover_p50_s: pct(failoverS, 50, 2),
      failover_p95_s: pct(failoverS, 95, 2),
      failover_max_s: failoverS.length ? (Number.isFinite(Math.max(...failoverS)) ? Math.max(...failoverS) : null) : null,
      kills: kills_,
      // Lease ends the control instance saw of nodes nobody had killed: a live node taken for dead moves all its halls.
      live_node_lease_ends: h.liveNodesLost().length,
      goals: { failover_p95_s: 5, failover_met: failoverS.length > 0 && percentile(failoverS, 95) <= 5, inter_node_equals_producers_times_nodes: crossing.equal },
    };
    const { line, exitCode } = verdictLine(figures, v, facts, { nodes, bridges: h.peers.size - 2, harness, quick, node_loss: nodeLoss, window_s: seconds, cpu: os.cpus()[0]?.model });
    console.log(line);
    process.exitCode = exitCode;
  } finally {
    await h.close();
  }
}

/**
 * Where a failover's time went, in seconds from the kill: the control instance saw the lease end
 * (`lease_ended_s`), moved the first and last of the killed node's peers (`moved_first_s`,
 * `moved_last_s`; null when it moved none: the node was back first), the node process was
 * started again (`restart_s`), the speaker's hall (when it was there) and the last of the killed
 * node's peers had joined their new node (`speaker_rejoined_s`, `rejoined_s`; by a move or on the
 * restarted node), and the first affected hall received the programme again (the last: `seconds`).
 */
interface KillSteps {
  lease_ended_s: number | null;
  moved_first_s: number | null;
  moved_last_s: number | null;
  moved: number;
  restart_s: number | null;
  rejoined_s: number | null;
  speaker_rejoined_s: number | null;
  first_arrival_s: number | null;
}

function killSteps(h: CascadeHarness, victim: string, killedAt: number, onVictim: string[], speaker: string | null, arrivals: (number | null | undefined)[]): KillSteps {
  const since = (t: number | undefined): number | null => (t !== undefined && t >= killedAt ? round((t - killedAt) / 1000, 2) : null);
  const moved = onVictim.map((p) => since(h.movedAt.get(p))).filter((x): x is number => x !== null);
  const joined = onVictim.map((p) => since(h.joinedAt.get(p))).filter((x): x is number => x !== null);
  const arrived = arrivals.filter((x): x is number => x != null);
  return {
    // The first end after the kill (a cut node's renewals queued in its kernel can reach redis once its link is back, and end again).
    lease_ended_s: since(h.leaseEnds.find((e) => e.nodeId === victim && e.at >= killedAt)?.at),
    moved_first_s: moved.length ? Math.min(...moved) : null,
    moved_last_s: moved.length ? Math.max(...moved) : null,
    moved: moved.length,
    restart_s: since(h.restartedAt.get(victim)),
    rejoined_s: joined.length ? Math.max(...joined) : null,
    speaker_rejoined_s: speaker ? since(h.joinedAt.get(speaker)) : null,
    first_arrival_s: arrived.length ? round((Math.min(...arrived) - killedAt) / 1000, 2) : null,
  };
}

/** Polls the sink until every receiver listed had a new programme stream since the last watch, or the time is up. */
async function until(h: CascadeHarness, receivers: string[], maxMs: number): Promise<Record<string, number | null>> {
  const end = Date.now() + maxMs;
  let a: Record<string, number | null> = {};
  while (Date.now() < end) {
    a = await h.arrivals();
    if (receivers.every((r) => a[r] != null)) break;
    await sleep(100);
  }
  return a;
}

function safe(fn: () => number): number {
  try {
    return fn();
  } catch {
    return 0;
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
