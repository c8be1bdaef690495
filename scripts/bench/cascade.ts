/**
 * npm run bench:cascade — the 212-bridge meeting over 3 media nodes, each a real `media` role
 * process in its own network namespace, with a control instance and redis, fed by bench:fanout's
 * generator and sink (see cascade/harness.ts). Measures, one after the other:
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
 * Valid or nothing (issue 14): the harness's CPU, loop delays and socket drops, and the load of
 * other processes on the machine, are checked per phase; a run that did not keep up prints
 * `"valid": false` with the reasons (figures only under `not_valid_figures`) and exits 3.
 *
 * Options: --quick (12 bridges, 2 kills, 2 switches, 3 s window) --nodes N (3) --bridges N (212)
 *          --kills N (10) --switches N (6) --seconds N (window, 15) --warmup N (5)
 * Needs root (network namespaces), redis-server, and setup's mediasoup worker.
 */
import os from 'node:os';
import { CascadeHarness, CpuTally, percentile, round } from './cascade/harness.ts';
import { cpuSeconds as cpuOf } from './fanout/harness.ts';
import { LIMITS, Validity, coreSample, machineBusyPctOfCore, machineFacts, verdictLine } from './validity.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Samples our processes' CPU and the machine's through a phase: what others used is the rest. */
class Phase {
  readonly #tally = new CpuTally();
  readonly #harness = new CpuTally();
  readonly #cores = coreSample();
  readonly #t0 = performance.now();
  readonly #timer: NodeJS.Timeout;
  constructor(readonly h: CascadeHarness) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 500);
  }
  #sample(): void {
    this.#tally.sample(this.h.pids());
    this.#harness.sample(this.h.harnessPids());
  }
  /** Ends the phase; others' CPU (% of one core) and the harness's, into the validity. */
  end(v: Validity, name: string): void {
    clearInterval(this.#timer);
    this.#sample();
    const wall = (performance.now() - this.#t0) / 1000;
    const machine = machineBusyPctOfCore(this.#cores, coreSample(), wall);
    v.atMost(`${name}_others_cpu_pct`, round(machine - (this.#tally.seconds() / wall) * 100, 1), LIMITS.othersCpuPct, `${name}: other processes on the machine (% of a core)`, '%');
    v.atMost(`${name}_harness_cpu_pct`, round((this.#harness.seconds() / wall) * 100, 1), LIMITS.harnessProcessCpuPct * 2, `${name}: generator + sink CPU (% of a core)`, '%');
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const nodes = arg('nodes', 3);
  const bridges = arg('bridges', quick ? 12 : 212);
  const kills = arg('kills', quick ? 2 : 10);
  const switches = arg('switches', quick ? 2 : 6);
  const seconds = arg('seconds', quick ? 3 : 15);
  const warmup = arg('warmup', quick ? 1 : 5);
  const facts = machineFacts();
  const h = new CascadeHarness({ nodes, bridges });
  // Interrupted (a timeout, ^C): nothing of the run is left behind (node processes, redis, namespaces).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void h.close().finally(() => process.exit(130)));
  const v = new Validity();
  try {
    await h.start();
    await sleep(warmup * 1000);

    // 1. The window.
    const phase = new Phase(h);
    const [c0, gen0] = await Promise.all([h.counters(), h.generatorStats(), h.sink.request({ type: 'mark' })]);
    const cpu0 = h.nodeCpu();
    const harness0 = h.harnessPids().map((p) => ({ p, c: safe(() => cpuOf(p)) }));
    const drops0 = h.harnessSocketDrops();
    const nodeDrops0 = h.nodeSocketDrops();
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const wall = (performance.now() - t0) / 1000;
    const cpu1 = h.nodeCpu();
    const [c1, gen1, sinkReport] = await Promise.all([h.counters(), h.generatorStats(), h.sinkReport()]);
    phase.end(v, 'window');
    const harnessDrops = h.harnessSocketDrops() - drops0;
    const nodeDrops = h.nodeSocketDrops() - nodeDrops0;
    const ids = Object.keys(c1).sort();
    const rate = (k: 'out' | 'in' | 'pipeOut' | 'pipeIn', id: string): number => Math.round((c1[id]![k] - c0[id]![k]) / wall);
    const perNode = Object.fromEntries(ids.map((id) => [id, { cpu_pct: round(((cpu1[id]! - cpu0[id]!) / wall) * 100, 1), out_pps: rate('out', id), in_pps: rate('in', id), pipe_out_pps: rate('pipeOut', id), pipe_in_pps: rate('pipeIn', id), halls: h.hallsOn(id).length, consumers: c1[id]!.consumers }]));
    const crossing = await h.crossing();
    const lost = Object.values(sinkReport.groups).reduce((n, g) => n + g.lost, 0);
    const expected = Object.values(sinkReport.groups).reduce((n, g) => n + g.expected, 0);
    for (const { p, c } of harness0) {
      const pct = ((safe(() => cpuOf(p)) - c) / wall) * 100;
      v.atMost(`window_harness_process_${p === h.generator.proc.pid ? 'generator' : 'sink'}_cpu_pct`, round(pct, 1), LIMITS.harnessProcessCpuPct, `${p === h.generator.proc.pid ? 'generator' : 'sink'} CPU over the window (% of a core)`, '%');
    }
    v.atMost('window_harness_socket_drops', harnessDrops, LIMITS.harnessSocketDrops, 'datagrams dropped at the sink\'s sockets');
    v.atMost('window_generator_loop_p99_ms', round(gen1.loopDelayP99Ms), LIMITS.generatorLateP99Ms, 'generator event loop delay p99', ' ms');
    v.atMost('window_sink_loop_p99_ms', round(sinkReport.loopDelayP99Ms), LIMITS.sinkReadDelayP99Ms, 'sink event loop delay p99', ' ms');
    const generatorPps = Math.round((gen1.packets - gen0.packets) / wall);
    console.error(JSON.stringify({ window: { seconds: round(wall, 1), perNode, crossing, generatorPps, lost, expected, harnessDrops, nodeDrops } }));

    // 2. Switches across nodes (prepared: the hall asks, the nodes prepare it as next, the chair grants 1.5 s later).
    const switchMs: number[] = [];
    const sameNodeMs: number[] = [];
    const switchPhase = new Phase(h);
    // Not the chair's hall: it is on air whenever nobody holds the floor, and a speaker's own hall watches it.
    const publishers = [...h.peers.values()].filter((p) => p.group === 'halls' && p.bridgeId !== h.chair).map((p) => p.bridgeId!);
    for (let i = 0; i < switches; i++) {
      const from = h.nodeOf(h.speaker);
      const to = publishers.filter((b) => b !== h.speaker && h.nodeOf(b) !== from)[(i * 7) % Math.max(1, publishers.length - 1)] ?? publishers.find((b) => b !== h.speaker && h.nodeOf(b) !== from);
      if (!to) break;
      const toNode = h.nodeOf(to);
      const t0 = await h.grant(to, 1500, () => h.watch().then(() => undefined));
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
    switchPhase.end(v, 'switches');

    // 3. Failovers.
    const failoverS: number[] = [];
    const failPhase = new Phase(h);
    const kills_: { node: string; halls: number; speakerThere: boolean; seconds: number | null }[] = [];
    for (let k = 0; k < kills; k++) {
      const victim = h.nodeIds().map((id) => ({ id, n: h.hallsOn(id).length })).sort((a, b) => b.n - a.n)[0]!.id;
      const speakerThere = h.nodeOf(h.speaker) === victim;
      const affected = speakerThere ? [...h.peers.values()].filter((p) => p.group === 'halls' && p.bridgeId !== h.speaker).map((p) => p.peerId) : h.hallsOn(victim).filter((p) => p !== `bench:${h.speaker}`);
      await h.watch();
      const killedAt = await h.kill(victim);
      const arrived = await until(h, affected, 20_000);
      const times = affected.map((p) => arrived[p]);
      const secs = times.some((t) => t == null) ? null : round((Math.max(...(times as number[])) - killedAt) / 1000, 2);
      console.error(`kill ${k + 1}: ${victim} (${affected.length} halls${speakerThere ? ', the speaker\'s among them' : ''}) → programme again at the last of them after ${secs ?? 'never (20 s)'} s`);
      kills_.push({ node: victim, halls: affected.length, speakerThere, seconds: secs });
      failoverS.push(secs ?? Infinity);
      await h.restarted(victim);
      await h.movesDone();
      await h.settle(20_000);
    }
    failPhase.end(v, 'failover');
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
      sfu_socket_drops: nodeDrops,
      generator_pps: generatorPps,
      switch_p50_ms: pct(switchMs, 50, 1),
      switch_p95_ms: pct(switchMs, 95, 1),
      switch_same_node_p95_ms: pct(sameNodeMs, 95, 1),
      switches: switchMs.length,
      failover_p50_s: pct(failoverS, 50, 2),
      failover_p95_s: pct(failoverS, 95, 2),
      failover_max_s: failoverS.length ? (Number.isFinite(Math.max(...failoverS)) ? Math.max(...failoverS) : null) : null,
      kills: kills_,
      goals: { failover_p95_s: 5, failover_met: failoverS.length > 0 && percentile(failoverS, 95) <= 5, inter_node_equals_producers_times_nodes: crossing.equal },
    };
    const { line, exitCode } = verdictLine(figures, v, facts, { nodes, bridges: h.peers.size - 2, quick, window_s: seconds, cpu: os.cpus()[0]?.model });
    console.log(line);
    process.exitCode = exitCode;
  } finally {
    await h.close();
  }
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
