// sim:national's real part: the control plane with 10,000 socket.io clients across two control
// instances sharing redis, on loopback. Servers, redis and several client processes are separate
// processes, each bounded (`ulimit -n`, a V8 heap limit) and measured apart (/proc). Phases: the
// join storm (every hall connects at once, from cold, until each sees itself online and the
// chair's roll-call shows them all), then N floor grants (a hall asks, the chair grants; each
// hall's first view with the new holder is timed). Valid or nothing: the client processes' event
// loop delay and the load of other processes on the machine are checked per phase.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { ConferenceView } from '../../../server/protocol/control.ts';
import { startRedisServer } from '../../../test/integration/store/redis-server.ts';
import { CpuTally } from '../cascade/harness.ts';
import { percentile, round } from '../fanout/harness.ts';
import { LIMITS, Validity, coreSample, machineBusyPctOfCore } from '../validity.ts';
import type { HallsRequest } from './halls.ts';
import { nationalPlan } from './plan.ts';

/** A request to a halls process, without its id (distributive: each kind keeps its fields). */
type HallsMessage = HallsRequest extends infer R ? (R extends HallsRequest ? Omit<R, 'id'> : never) : never;

const here = path.dirname(fileURLToPath(import.meta.url));
/** Open files per process: a control instance holds half the halls' sockets, a client process its share. */
export const NOFILE = 16_384;
/** V8 heap limits (MiB): the bound on each process's memory. */
export const SERVER_HEAP_MB = 2048;
export const CLIENT_HEAP_MB = 1024;
/** The longest the join storm may take before the run stops it (20 s is the goal for 212 halls, issue 6). */
export const STORM_LIMIT_S = 300;

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A bounded child: bash sets the file limit and execs node with the heap limit; IPC passes through. */
class Bounded {
  readonly proc: ChildProcess;
  #next = 1;
  readonly #waiting = new Map<number, (m: any) => void>();
  /** How long an orderly stop may take before SIGKILL (a CPU profile is written at exit). */
  readonly #stopMs: number;
  constructor(script: string, heapMb: number, env: Record<string, string>, nodeArgs: readonly string[] = []) {
    this.#stopMs = nodeArgs.some((a) => a.startsWith('--cpu-prof')) ? 60_000 : 5000;
    this.proc = spawn('bash', ['-c', `ulimit -n ${NOFILE} && exec "$0" "$@"`, process.execPath, `--max-old-space-size=${heapMb}`, ...nodeArgs, '--import', 'tsx', path.join(here, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: any) => {
      const w = this.#waiting.get(m.id);
      if (w) {
        this.#waiting.delete(m.id);
        w(m);
      }
    });
  }
  first<T>(type: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms`)), timeoutMs);
      const on = (m: any): void => {
        if (m.type !== type) return;
        clearTimeout(timer);
        this.proc.off('message', on);
        resolve(m as T);
      };
      this.proc.on('message', on);
      this.proc.once('exit', (c) => reject(new Error(`exited (${c}) before ${type}`)));
    });
  }
  request<T = any>(msg: HallsMessage, timeoutMs = 60_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${msg.type} timed out`)), timeoutMs);
      this.#waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
      this.proc.send({ ...msg, id });
    });
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    if (this.proc.connected) this.proc.send({ type: 'close', id: 0 });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), this.#stopMs);
    await exited;
    clearTimeout(timer);
  }
}

/** Peak resident memory of a process so far (MiB). */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

class Phase {
  readonly #ours = new CpuTally();
  readonly #servers = new CpuTally();
  readonly #cores = coreSample();
  readonly #t0 = performance.now();
  readonly #timer: NodeJS.Timeout;
  constructor(readonly ours: () => number[], readonly servers: () => number[]) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 500);
  }
  #sample(): void {
    this.#ours.sample(this.ours());
    this.#servers.sample(this.servers());
  }
  end(): { wall: number; othersPct: number; serversPct: number } {
    clearInterval(this.#timer);
    this.#sample();
    const wall = (performance.now() - this.#t0) / 1000;
    return { wall, othersPct: round(machineBusyPctOfCore(this.#cores, coreSample(), wall) - (this.#ours.seconds() / wall) * 100, 1), serversPct: round((this.#servers.seconds() / wall) * 100, 1) };
  }
}

/**
 * The join storm and the grants. `cpuProfDir`: each control instance runs under `--cpu-prof` and
 * writes its profile there when the run ends (to find where a storm's time goes).
 */
export async function controlStorm(o: { bridges: number; clientProcs: number; grants: number; cpuProfDir?: string }): Promise<{ valid: boolean; out: Record<string, unknown> }> {
  const v = new Validity();
  const redis = await startRedisServer();
  const servers: Bounded[] = [];
  const clients: Bounded[] = [];
  let chair: Socket | undefined;
  // Interrupted (a timeout, ^C): the children by pid and redis, nothing left behind.
  const onSignal = (): void => {
    for (const c of [...clients, ...servers]) c.proc.kill('SIGKILL');
    void redis.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const env = { BENCH_BRIDGES: String(o.bridges), BENCH_REDIS_URL: redis.url };
    const t0 = performance.now();
    // One after the other: the first creates the conference and its tokens, the second finds them.
    const ready: { url: string; pid: number; tokens: Record<string, string> }[] = [];
    for (let i = 0; i < 2; i++) {
      const s = new Bounded('control-server.ts', SERVER_HEAP_MB, { ...env, BENCH_TOKENS: i === 0 ? '1' : '0' }, o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []);
      servers.push(s);
      ready.push(await s.first('ready', 300_000));
    }
    const startSeconds = round((performance.now() - t0) / 1000, 1);
    const urls = ready.map((r) => r.url);
    const tokens = ready[0]!.tokens;
    for (let i = 0; i < o.clientProcs; i++) clients.push(new Bounded('halls.ts', CLIENT_HEAP_MB, {}));
    const plan = nationalPlan(o.bridges);
    const bridges = plan.bridges.map((b) => b.id);
    const owner = new Map(bridges.map((b, i) => [b, clients[i % clients.length]!]));
    const serverPids = (): number[] => [...ready.map((r) => r.pid), redis.pid];
    const ourPids = (): number[] => [process.pid, ...serverPids(), ...clients.map((c) => c.proc.pid!)];

    chair = io(`${urls[0]}/control`, { auth: { token: tokens.chair }, transports: ['websocket'], forceNew: true, reconnection: false });
    let chairView: ConferenceView | null = null;
    const chairEvents: { type: string; bridgeId?: string; requestId?: string }[] = [];
    chair.on('control:view', (view: ConferenceView) => (chairView = view));
    chair.on('control:event', (e: { type: string }) => chairEvents.push(e));
    for (let i = 0; i < 200 && !chairView; i++) await sleep(100);
    if (!chairView) throw new Error('the chair has no view');
    const rollOnline = (): number => {
      const r = (chairView as ConferenceView | null)!.rollCall;
      return r.province.online + r.districts.online + r.communes.online;
    };

    // The join storm.
    await Promise.all(clients.map((c) => c.request({ type: 'phase' })));
    const storm = new Phase(ourPids, serverPids);
    const stormAt = now();
    await Promise.all(clients.map((c, k) => c.request({ type: 'connect', urls, halls: bridges.flatMap((b, i) => (i % clients.length === k ? [{ bridgeId: b, token: tokens[`operator:${b}`]!, url: i % urls.length }] : [])) })));
    let seen: { online: number; onlineAt: number[]; errors: string[] }[] = [];
    const errors: string[] = [];
    const stormDeadline = Date.now() + STORM_LIMIT_S * 1000;
    for (;;) {
      seen = await Promise.all(clients.map((c) => c.request<{ online: number; onlineAt: number[]; errors: string[] }>({ type: 'seen' })));
      for (const s of seen) errors.push(...s.errors);
      if (seen.reduce((n, s) => n + s.online, 0) === bridges.length || Date.now() > stormDeadline) break;
      await sleep(500);
    }
    const onlineAll = seen.flatMap((s) => s.onlineAt);
    const allOnline = onlineAll.every((x) => Number.isFinite(x));
    for (let i = 0; i < 600 && rollOnline() < bridges.length; i++) await sleep(100);
    const chairSawAllS = rollOnline() === bridges.length ? round((now() - stormAt) / 1000, 2) : null;
    const stormCpu = storm.end();
    const stormLoops = await Promise.all(clients.map((c) => c.request<{ loopP99Ms: number }>({ type: 'phase' })));
    const onlineCount = onlineAll.filter((x) => Number.isFinite(x)).length;
    if (!allOnline) v.fail(`join storm not over within ${STORM_LIMIT_S} s: ${onlineCount} of ${bridges.length} halls online`);
    v.atMost('storm_client_loop_p99_ms', round(Math.max(...stormLoops.map((l) => l.loopP99Ms))), LIMITS.clientStormLoopDelayP99Ms, 'join storm: client processes\' event loop delay p99', ' ms');
    v.atMost('storm_others_cpu_pct', stormCpu.othersPct, LIMITS.othersCpuPct, 'join storm: other processes on the machine (% of a core)', '%');

    // Floor grants (not when the storm did not end: the halls left would time every grant out).
    let grants = allOnline ? o.grants : 0;
    if (grants > 0) {
      const started = (await chair.timeout(60_000).emitWithAck('control:command', { type: 'start_meeting' }).catch((e: Error) => ({ ok: false, error: e.message }))) as { ok: boolean; error?: unknown };
      if (!started.ok) {
        v.fail(`start_meeting: ${JSON.stringify(started.error ?? 'refused')}`);
        grants = 0;
      } else await sleep(2000);
    }
    const provinces = plan.bridges.filter((b) => b.tier === 'district').map((b) => b.id);
    const communes = plan.bridges.filter((b) => b.tier === 'commune').map((b) => b.id);
    const viewMs: number[] = [];
    const slowest: number[] = [];
    await Promise.all(clients.map((c) => c.request({ type: 'phase' })));
    const grantPhase = new Phase(ourPids, serverPids);
    for (let g = 0; g < grants; g++) {
      try {
        const target = g % 2 === 0 ? provinces[(g * 5) % provinces.length]! : communes[(g * 997) % communes.length]!;
        const asked = chairEvents.length;
        const r = await owner.get(target)!.request<{ ok: boolean; error?: string }>({ type: 'ask', bridgeId: target });
        if (!r.ok) throw new Error(`request_floor ${target}: ${r.error ?? 'refused'}`);
        let requestId = '';
        for (let i = 0; i < 300 && !requestId; i++) {
          requestId = chairEvents.slice(asked).find((e) => e.type === 'floor_requested' && e.bridgeId === target)?.requestId ?? '';
          if (!requestId) await sleep(50);
        }
        if (!requestId) throw new Error(`the chair never saw ${target}'s request`);
        await sleep(500);
        await Promise.all(clients.map((c) => c.request({ type: 'watch', requestId })));
        const sentAt = now();
        const ack = (await chair.timeout(60_000).emitWithAck('control:command', { type: 'grant_floor', requestId })) as { ok: boolean };
        if (!ack.ok) throw new Error(`grant_floor ${requestId} refused`);
        let views: number[] = [];
        const deadline = Date.now() + 60_000;
        for (;;) {
          const s = await Promise.all(clients.map((c) => c.request<{ viewed: number; viewAt: number[] }>({ type: 'seen' })));
          views = s.flatMap((x) => x.viewAt);
          if (views.every((x) => Number.isFinite(x)) || Date.now() > deadline) break;
          await sleep(200);
        }
        const ms = views.filter((x) => Number.isFinite(x)).map((x) => x - sentAt);
        if (ms.length < views.length) v.fail(`grant ${g + 1}: ${views.length - ms.length} halls never saw it within 60 s`);
        viewMs.push(...ms);
        slowest.push(Math.max(...ms));
        console.error(`grant ${g + 1} → ${target}: p50 ${round(percentile(ms, 50), 1)} ms, last hall ${round(Math.max(...ms), 1)} ms`);
        await sleep(1000);
      } catch (error) {
        // An overloaded control plane: said in the verdict, the figures so far kept.
        v.fail(`grant ${g + 1}: ${(error as Error).message}`);
        break;
      }
    }
    const grantCpu = grantPhase.end();
    const grantLoops = await Promise.all(clients.map((c) => c.request<{ loopP99Ms: number }>({ type: 'phase' })));
    v.atMost('grants_client_loop_p99_ms', round(Math.max(...grantLoops.map((l) => l.loopP99Ms))), LIMITS.clientLoopDelayP99Ms, 'grants: client processes\' event loop delay p99', ' ms');
    v.atMost('grants_others_cpu_pct', grantCpu.othersPct, LIMITS.othersCpuPct, 'grants: other processes on the machine (% of a core)', '%');
    if (errors.length) v.fail(`client errors (${errors.length}): ${errors.slice(0, 3).join('; ')}`);

    const figures = {
      instances_start_s: startSeconds,
      join_storm_s: allOnline ? round((Math.max(...onlineAll) - stormAt) / 1000, 2) : null,
      online_at_storm_end: onlineCount,
      join_p50_s: round((percentile(onlineAll.filter(Number.isFinite), 50) - stormAt) / 1000, 2),
      chair_saw_all_online_s: chairSawAllS,
      grant_p50_ms: viewMs.length ? round(percentile(viewMs, 50), 1) : null,
      grant_p99_ms: viewMs.length ? round(percentile(viewMs, 99), 1) : null,
      grant_last_hall_p50_ms: slowest.length ? round(percentile(slowest, 50), 1) : null,
      grants: slowest.length,
      servers_cpu_storm_pct: stormCpu.serversPct,
      servers_cpu_grants_pct: grantCpu.serversPct,
      storm_wall_s: round(stormCpu.wall, 1),
      peak_rss_mb: { servers: ready.map((r) => peakRssMb(r.pid)), redis: peakRssMb(redis.pid), clients: clients.map((c) => peakRssMb(c.proc.pid!)) },
    };
    const context = { clients: bridges.length, instances: 2, client_processes: clients.length, ulimit_n: NOFILE, heap_limit_mb: { server: SERVER_HEAP_MB, client: CLIENT_HEAP_MB } };
    const out = v.valid ? { valid: true, ...context, ...figures, headroom: v.headroom } : { valid: false, invalid_reasons: v.reasons, ...context, headroom: v.headroom, not_valid_figures: figures };
    return { valid: v.valid, out };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    chair?.close();
    await Promise.allSettled([...clients, ...servers].map((c) => c.stop()));
    await redis.stop();
  }
}
