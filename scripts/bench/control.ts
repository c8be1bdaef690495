// The control-plane benchmark (issue #6, `npm run bench:control`): 212 socket.io clients
// authenticated as the 212 bridges of the embedded plan join from cold, then the chair grants
// the floor N times and each grant's arrival at every hall is timed. Run once against one
// server with its state in memory, then against two server instances sharing a redis-server
// (halls alternate between them, the chair is on the first). Servers, clients and redis are
// separate processes, so each one's CPU is read apart from the others' (/proc/<pid>/stat).
// The last line printed is JSON: {"valid", "join_212_s", "grant_p50_ms", "grant_p99_ms", "redis": {…}, "headroom", …}:
// valid or nothing (scripts/bench/validity.ts) — the clients process's own event-loop delay and
// CPU, and what else ran on the machine, per phase; a run where they were over their limits
// prints its figures only under "not_valid_figures" and exits 3.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer, type RedisServer } from '../../test/integration/store/redis-server.ts';
import type { ServerReady } from './control/server.ts';
import type { ClientsJob, ClientsResult, PhaseMark } from './control/clients.ts';
import { LIMITS, Validity, coreSample, machineBusyPctOfCore, machineFacts, verdictLine } from './validity.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const GRANTS = Number(process.env.BENCH_GRANTS ?? '30');
const MEDIA = process.env.BENCH_MEDIA !== '0';
const ONLY = process.env.BENCH_ONLY ?? ''; // 'memory' or 'redis' to run one of the two
/** A directory: the server processes write V8 CPU profiles there (node --cpu-prof). */
const PROFILE_DIR = process.env.BENCH_CPU_PROF ?? '';

/** Processes this run started, killed by pid whatever happens. */
const children = new Set<ChildProcess>();

function start(script: string, env: Record<string, string>, profile = false): ChildProcess {
  const execArgv = [...process.execArgv, ...(profile && PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [])];
  const child = fork(path.join(here, 'control', script), [], { execArgv, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function firstMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type}' from ${child.pid} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: { type: string; message?: string }) => {
      if (m.type === 'error') {
        clearTimeout(timer);
        reject(new Error(m.message));
      } else if (m.type === type) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m as T);
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`process ${child.pid} exited (${code}) before '${type}'`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  if (child.connected) child.send({ type: 'close' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

const TICKS = 100; // USER_HZ on Linux
/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
const sortNum = (a: number[]) => [...a].sort((x, y) => x - y);
const r1 = (x: number) => Math.round(x * 10) / 10;

/** One scenario's figures. */
interface Figures {
  join_212_s: number;
  grant_p50_ms: number;
  grant_p99_ms: number;
  grant_event_p50_ms: number;
  grant_event_p99_ms: number;
  grant_ack_p50_ms: number;
  all_online_s: number;
  chair_saw_212_s: number;
  all_ready_s: number;
  server_cpu_storm_pct: number;
  server_cpu_grants_pct: number;
  others_cpu_storm_pct: number;
  others_cpu_grants_pct: number;
  errors: number;
}

/** Whether the clients process (the harness) and the machine left the server alone in each phase. */
function scenarioValidity(result: ClientsResult, storm: { others: number }, grants: { others: number }): Validity {
  const v = new Validity();
  v.atMost('clients_storm_loop_delay_p99_ms', result.storm.loopDelayP99Ms, LIMITS.clientStormLoopDelayP99Ms, "the clients process's event loop was late during the join storm (p99)", ' ms');
  v.atMost('clients_grants_loop_delay_p99_ms', result.grantsPhase.loopDelayP99Ms, LIMITS.clientLoopDelayP99Ms, "the clients process's event loop was late during the grants (p99)", ' ms');
  v.atMost('clients_grants_cpu_pct', result.grantsPhase.cpuPct, LIMITS.harnessProcessCpuPct, 'the clients process used its core during the grants', ' %');
  v.headroom.clients_storm_cpu_pct = result.storm.cpuPct;
  v.headroom.clients_grants_loop_delay_max_ms = result.grantsPhase.loopDelayMaxMs;
  v.atMost('others_cpu_storm_pct', storm.others, LIMITS.othersCpuPct, 'other processes on the machine during the join storm', ' % of a core');
  v.atMost('others_cpu_grants_pct', grants.others, LIMITS.othersCpuPct, 'other processes on the machine during the grants', ' % of a core');
  return v;
}

async function scenario(label: string, instances: number, redis: RedisServer | null): Promise<{ figures: Figures; validity: Validity }> {
  const servers: { child: ChildProcess; ready: ServerReady }[] = [];
  const workers = instances === 1 ? 2 : 1;
  try {
    // One after the other: the first creates the conference and its tokens, the second finds them.
    for (let i = 0; i < instances; i++) {
      const child = start('server.ts', { BENCH_WORKERS: String(workers), BENCH_REDIS_URL: redis?.url ?? '' }, true);
      servers.push({ child, ready: await firstMessage<ServerReady>(child, 'ready', 60_000) });
    }
    const first = servers[0]!.ready;
    // The pids whose CPU is the server side: node processes, their mediasoup workers, redis.
    const pids = [...servers.flatMap((s) => [s.ready.pid, ...s.ready.workerPids]), ...(redis ? [redis.pid] : [])];
    const nodePids = servers.map((s) => s.ready.pid);
    const sample = () => ({ t: performance.now(), node: nodePids.map(cpuSeconds), all: pids.map(cpuSeconds), redis: redis ? cpuSeconds(redis.pid) : 0, machine: coreSample(), clients: clients.pid ? cpuSeconds(clients.pid) : 0 });
    const clients = start('clients.ts', {});
    const marks = new Map<string, ReturnType<typeof sample>>();

    clients.on('message', (m: PhaseMark) => {
      if (m.type === 'phase') marks.set(m.name, sample());
    });
    const job: ClientsJob = { type: 'run', urls: servers.map((s) => s.ready.url), tokens: first.tokens, bridges: first.bridges, grants: GRANTS, media: MEDIA };
    clients.send(job);
    const result = await firstMessage<ClientsResult>(clients, 'result', 300_000);

    // Percentages of one core, per server node process, and for everything server-side together.
    const pct = (from: string, to: string) => {
      const a = marks.get(from)!;
      const b = marks.get(to)!;
      const wall = (b.t - a.t) / 1000;
      return {
        node: b.node.map((x, i) => Math.round((100 * (x - a.node[i]!)) / wall)),
        all: Math.round((100 * (b.all.reduce((s, x) => s + x, 0) - a.all.reduce((s, x) => s + x, 0))) / wall),
        redis: Math.round((100 * (b.redis - a.redis)) / wall),
        // What the rest of the machine used meanwhile (all cores, minus the servers and the clients), in % of one core.
        others: Math.round(machineBusyPctOfCore(a.machine, b.machine) - (100 * (b.all.reduce((s, x) => s + x, 0) - a.all.reduce((s, x) => s + x, 0) + b.clients - a.clients)) / wall),
        wall,
      };
    };
    const storm = pct('storm-start', 'storm-end');
    const grantsCpu = pct('grants-start', 'grants-end');

    const views = sortNum(result.grants.flatMap((g) => g.viewMs));
    // Over IPC a missing receipt (NaN) arrives as null.
    const events = sortNum(result.grants.flatMap((g) => g.eventMs).filter((x) => typeof x === 'number' && Number.isFinite(x)));
    const acks = sortNum(result.grants.map((g) => g.ackMs));
    const slowest = sortNum(result.grants.map((g) => Math.max(...g.viewMs)));
    const online = sortNum(result.onlineMs);
    const transports = sortNum(result.transportsMs);

    console.log(`\n== ${label}: ${instances} instance${instances > 1 ? 's' : ''} (${workers} mediasoup worker${workers > 1 ? 's' : ''} each), ${redis ? 'state in redis' : 'state in memory'}, ${first.bridges.length} halls${MEDIA ? ' with /media transports' : ''} ==`);
    console.log(`join storm from cold: every hall online ${r1(result.allOnlineMs)} ms (per hall p50 ${r1(percentile(online, 50))}, p99 ${r1(percentile(online, 99))}); ` +
      (MEDIA ? `both transports created ${r1(result.allJoinedMs)} ms (per hall p50 ${r1(percentile(transports, 50))}, p99 ${r1(percentile(transports, 99))}); ` : '') +
      `the chair's roll-call shows ${first.bridges.length} online at ${r1(result.chairSawAllMs)} ms; every ready acknowledged at ${r1(result.allReadyMs)} ms`);
    console.log(`  server CPU during the storm (${r1(storm.wall)} s): node ${storm.node.map((x) => `${x}%`).join(' + ')}, with mediasoup workers${redis ? ' and redis' : ''} ${storm.all}%${redis ? ` (redis ${storm.redis}%)` : ''} of one core; everything else on the machine ${storm.others}%`);
    console.log(`floor grants: ${result.grants.length} × ${first.bridges.length} receipts; chair's ack p50 ${r1(percentile(acks, 50))} ms`);
    console.log(`  view with the new floor holder: p50 ${r1(percentile(views, 50))} ms, p99 ${r1(percentile(views, 99))} ms, max ${r1(views.at(-1)!)} ms; slowest hall per grant p50 ${r1(percentile(slowest, 50))} ms`);
    console.log(events.length ? `  event floor_granted:            p50 ${r1(percentile(events, 50))} ms, p99 ${r1(percentile(events, 99))} ms, max ${r1(events.at(-1)!)} ms` : '  event floor_granted:            not sent to the halls (staff only)');
    console.log(`  server CPU during the grants (${r1(grantsCpu.wall)} s): node ${grantsCpu.node.map((x) => `${x}%`).join(' + ')}, everything server-side ${grantsCpu.all}% of one core, everything else on the machine ${grantsCpu.others}%; client process ${r1(result.clientCpuMs / 1000)} s CPU in all`);
    for (const g of result.grants.slice(0, 4)) {
      const v = sortNum(g.viewMs);
      console.log(`  grant → ${g.bridgeId.padEnd(8)} ack ${r1(g.ackMs)} ms, view p50 ${r1(percentile(v, 50))} / max ${r1(v.at(-1)!)} ms, ${g.eventMs.every((x) => typeof x === 'number') ? `event max ${r1(Math.max(...g.eventMs))} ms` : 'no event'}`);
    }
    if (result.errors.length) console.log(`  errors (${result.errors.length}): ${result.errors.slice(0, 5).join('; ')}`);
    const validity = scenarioValidity(result, storm, grantsCpu);
    console.log(`  the clients process: loop delay p99 ${result.storm.loopDelayP99Ms} ms in the storm, ${result.grantsPhase.loopDelayP99Ms} ms in the grants; CPU ${result.storm.cpuPct} % / ${result.grantsPhase.cpuPct} %${validity.valid ? '' : ` — NOT VALID: ${validity.reasons.join('; ')}`}`);
    if (result.errors.length) validity.fail(`${result.errors.length} client errors`);
    const figures: Figures = {
      join_212_s: Math.round(result.allJoinedMs) / 1000,
      grant_p50_ms: r1(percentile(views, 50)),
      grant_p99_ms: r1(percentile(views, 99)),
      grant_event_p50_ms: r1(percentile(events, 50)),
      grant_event_p99_ms: r1(percentile(events, 99)),
      grant_ack_p50_ms: r1(percentile(acks, 50)),
      all_online_s: Math.round(result.allOnlineMs) / 1000,
      chair_saw_212_s: Math.round(result.chairSawAllMs) / 1000,
      all_ready_s: Math.round(result.allReadyMs) / 1000,
      server_cpu_storm_pct: storm.all,
      server_cpu_grants_pct: grantsCpu.all,
      others_cpu_storm_pct: storm.others,
      others_cpu_grants_pct: grantsCpu.others,
      errors: result.errors.length,
    };
    return { figures, validity };
  } finally {
    for (const s of servers) await stop(s.child);
  }
}

async function main(): Promise<number> {
  const facts = machineFacts();
  console.log(`bench:control ${facts.date} on ${facts.machine} (AES-128-GCM ${facts.openssl_gcm_us_per_1200B} µs per 1,200 bytes); load before: ${facts.load.join(' ')}; ${GRANTS} grants`);
  const out: Record<string, unknown> = {};
  const validity = new Validity();
  if (ONLY !== 'redis') {
    const { figures: f, validity: v } = await scenario('one instance', 1, null);
    Object.assign(out, { join_212_s: f.join_212_s, grant_p50_ms: f.grant_p50_ms, grant_p99_ms: f.grant_p99_ms, memory: f });
    validity.merge('memory', v);
  }
  if (ONLY !== 'memory') {
    const redis = await startRedisServer();
    stopRedis = () => redis.stop();
    try {
      const { figures: f, validity: v } = await scenario('two instances on redis', 2, redis);
      out.redis = f;
      validity.merge('redis', v);
    } finally {
      await redis.stop();
    }
  }
  const verdict = verdictLine(out, validity, facts, { load_after: os.loadavg().map((x) => Math.round(x * 100) / 100) });
  console.log(verdict.line);
  return verdict.exitCode;
}

/** Stops the redis-server of the run, if one is up. */
let stopRedis: () => Promise<void> = async () => undefined;
// Interrupted: nothing of the run is left behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    void stopRedis().finally(() => process.exit(130));
  });
}
try {
  process.exitCode = await main();
} finally {
  for (const child of children) child.kill('SIGKILL');
  await stopRedis();
}
