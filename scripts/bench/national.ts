/**
 * npm run sim:national — a national meeting (63 provinces, 10,000 bridges) sized with the real
 * placement code (server/core/placement.ts) and a measured per-packet cost (national/model.ts):
 * nodes needed (and with one node lost), packets and bit rates between nodes and to each
 * province, and the cost per bridge as the meeting grows from 212 to 10,000 bridges (goal: flat).
 * Then the part that runs for real here (national/control.ts): the control plane with 10,000
 * socket.io clients across two control instances on redis, on loopback (join storm, grant
 * latency), bounded by ulimit -n and heap limits, valid or nothing.
 *
 * Options: --bridges N (10000) --node-cores N (8) --utilisation F (0.6) --us-per-packet X (8.56,
 *          see model.ts for the source) --no-control (the simulation only) --clients N (10000)
 *          --client-procs N (4) --grants N (10) --cpu-prof DIR (the control instances write CPU
 *          profiles there)
 */
import { placementRules } from '../../server/core/placement.ts';
import { MEASURED, capacityOf, nodesNeeded, traffic, HALL, STREAMS } from './national/model.ts';
import { nationalPlan } from './national/plan.ts';
import { controlStorm } from './national/control.ts';
import { machineFacts } from './validity.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const bridges = arg('bridges', 10_000);
  const size = { cores: arg('node-cores', 8), utilisation: arg('utilisation', 0.6), usPerPacket: arg('us-per-packet', MEASURED.usPerPacket) };
  const t0 = performance.now();

  // The meeting as it grows: nodes, CPU and packets between nodes per bridge.
  const growth = [];
  for (const n of [212, 500, 1000, 2000, 5000, bridges].filter((x, i, a) => x <= bridges && a.indexOf(x) === i)) {
    const plan = nationalPlan(n);
    const need = nodesNeeded(plan, size);
    const speaker = plan.bridges.find((b) => b.tier === 'commune')!.id;
    const t = traffic(plan, need.placements, need.nodes, size.usPerPacket, speaker);
    growth.push({
      bridges: n,
      nodes: need.fit,
      nodes_with_one_lost: need.withSpare,
      cpu_cores: round(t.totalCpuCores),
      cpu_us_per_bridge_per_s: round((t.totalCpuCores * 1e6) / n, 0),
      inter_node_pps: t.interNodePps,
      inter_node_pps_per_bridge: round(t.interNodePps / n, 2),
      inter_node_share_pct: round((t.interNodePps / t.perNode.reduce((s, x) => s + x.outPps + x.inPps, 0)) * 100, 2),
      provinces_split: t.perProvince.filter((p) => p.nodes > 1).length,
    });
    console.error(`${n} bridges: ${need.fit} nodes of ${size.cores} cores (${need.withSpare} to survive the loss of the busiest), ${round(t.totalCpuCores)} cores in all, ${t.interNodePps} pps between nodes`);
  }

  const plan = nationalPlan(bridges);
  const rules = placementRules(plan);
  const need = nodesNeeded(plan, size);
  const speaker = plan.bridges.find((b) => b.tier === 'commune')!.id;
  const t = traffic(plan, need.placements, need.nodes, size.usPerPacket, speaker);
  const provinces = t.perProvince;
  const first = growth[0]!;
  const last = growth[growth.length - 1]!;
  const sim = {
    bridges,
    provinces: provinces.length,
    node: { cores: size.cores, utilisation: size.utilisation, capacity_peers: capacityOf(size) },
    us_per_packet: size.usPerPacket,
    us_per_packet_source: process.argv.includes('--us-per-packet') ? 'given on the command line' : MEASURED.source,
    stream_rates: STREAMS,
    hall_pps: { in: HALL.inPps, out: HALL.outPps },
    nodes_needed: need.fit,
    nodes_needed_with_one_lost: need.withSpare,
    one_node_lost: need.loss,
    nodes_deployed: need.nodes.length,
    // The deployment that survives the loss of its busiest node (the spare is used: placement spreads over every live node).
    per_node_deployed: t.perNode.map((n) => ({ node: n.nodeId, region: n.region, peers: n.peers, cpu_pct_of_node: round((n.cpuCores / size.cores) * 100, 1), out_pps: n.outPps, in_pps: n.inPps, pipe_in_pps: n.pipeInPps, pipe_out_pps: n.pipeOutPps })),
    inter_node_pps: t.interNodePps,
    inter_node_mbps: round(t.interNodeKbps / 1000, 1),
    inter_node_tracks: t.interNodeTracks,
    inter_node_tracks_expected: 3 * (t.nodes - 1) + t.perProvince.slice(0, 12).filter((p) => need.placements.get(p.provinceId)!.nodeId !== need.placements.get('chair')!.nodeId).length,
    to_province_mbps: { min: round(Math.min(...provinces.map((p) => p.downMbps)), 1), median: round(median(provinces.map((p) => p.downMbps)), 1), max: round(Math.max(...provinces.map((p) => p.downMbps)), 1) },
    to_province_pps: { min: Math.min(...provinces.map((p) => p.downPps)), median: median(provinces.map((p) => p.downPps)), max: Math.max(...provinces.map((p) => p.downPps)) },
    provinces_split_over_nodes: provinces.filter((p) => p.nodes > 1).length,
    growth,
    cost_per_bridge_ratio_10000_to_212: round(last.cpu_us_per_bridge_per_s / first.cpu_us_per_bridge_per_s, 3),
    cost_flat: Math.abs(last.cpu_us_per_bridge_per_s / first.cpu_us_per_bridge_per_s - 1) <= 0.1,
    groups: new Set(provinces.map((p) => rules.groupOf(p.provinceId))).size,
    sim_seconds: round((performance.now() - t0) / 1000, 1),
  };
  console.error(JSON.stringify({ per_province: provinces.map((p) => [p.provinceId, p.halls, p.nodes, round(p.downMbps, 1)]) }));

  let control: Record<string, unknown> | null = null;
  let exitCode = 0;
  if (!process.argv.includes('--no-control')) {
    const prof = process.argv.indexOf('--cpu-prof');
    const cpuProfDir = prof >= 0 ? process.argv[prof + 1] : undefined;
    if (prof >= 0 && !cpuProfDir) throw new Error('--cpu-prof needs a directory');
    const r = await controlStorm({ bridges: arg('clients', 10_000), clientProcs: arg('client-procs', 4), grants: arg('grants', 10), cpuProfDir });
    control = r.out;
    exitCode = r.valid ? 0 : 3;
  }
  console.log(JSON.stringify({ valid: control ? control.valid : true, simulation: sim, control, ...machineFacts() }));
  process.exitCode = exitCode;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
