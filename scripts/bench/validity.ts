/**
 * Valid or nothing: every benchmark measures its own headroom — whether its harness kept up —
 * and a run in which it did not is refused: its last line carries `"valid": false` with the
 * reasons, the SFU's figures only under `not_valid_figures`, and the command exits non-zero.
 * The limits are here, in one place, each with why.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LIMITS = {
  /**
   * A harness process (one event loop, or the native sink's one loop) busier than this share of
   * a core over the window is close to saturation: the programme arrives in bursts (one frame
   * copied to 211 halls at once), and a loop with less than 30 % spare queues them.
   */
  harnessProcessCpuPct: 70,
  /**
   * The core(s) the harness is pinned to, busy with everything (the harness, Chromium, other
   * people's processes, steal): above this the harness waits for CPU and its timings stretch.
   */
  harnessCoreBusyPct: 85,
  /**
   * Other processes on the SFU's own core (pinned runs): the worker's figures are its own only
   * when it had its core; 10 % of a core beside it already shows in forwarding p99.
   */
  sfuCoreOthersPct: 10,
  /**
   * Datagrams the kernel dropped at the harness's own sockets (full receive queues): any drop is
   * loss the harness made, not the SFU; its NACKs and the retransmissions then load the SFU
   * with work a real meeting would not have.
   */
  harnessSocketDrops: 0,
  /**
   * Kernel receipt → read by a sink, p99 (SO_TIMESTAMPNS): a sink that reads late is about to
   * drop, and its receipt times stop meaning anything. 10 ms is a third of a frame interval.
   */
  sinkReadDelayP99Ms: 10,
  /**
   * How late the generator sends a frame or an audio packet against its schedule, p99 and max:
   * the SFU must see the load the benchmark claims, at the pace a camera has. 5 ms is 15 % of a
   * frame interval (33 ms); a stall of 50 ms shows as a burst of two frames at once.
   */
  generatorLateP99Ms: 5,
  generatorLateMaxMs: 50,
  /** Frames or audio packets the generator skipped after a stall (more than 5 periods late). */
  generatorSkipped: 0,
  /**
   * Chromium halls must decode at least this share of the frame rate they are sent, or the
   * browser was starved and what it shows (switch times, loss) is the machine's, not the SFU's.
   */
  browserDecodeFpsRatio: 0.8,
  /**
   * A client process (bench:control: 212 socket.io clients in one Node process) whose event
   * loop is late by more than this at p99 adds its own queueing to every receipt it times;
   * 10 ms is a fifth of the 50 ms goal.
   */
  clientLoopDelayP99Ms: 10,
  /**
   * The same during bench:control's join storm, whose figure is about a second against a goal
   * of 20 s: a client late by a tenth of that second still measures the server.
   */
  clientStormLoopDelayP99Ms: 100,
  /**
   * Everything else on the machine (other people's processes, in % of one core) while the
   * benchmark measured: more than a quarter of a core competes with what is measured on a
   * 2-core machine.
   */
  othersCpuPct: 25,
} as const;

/** The headroom a run measured and the reasons it is not valid, if any. */
export class Validity {
  readonly reasons: string[] = [];
  readonly headroom: Record<string, number | string | null> = {};

  /** Records `value` as `key`; a reason if it is above `limit`. */
  atMost(key: string, value: number | null | undefined, limit: number, what: string, unit = ''): void {
    this.headroom[key] = value ?? null;
    if (value === null || value === undefined || Number.isNaN(value)) {
      this.reasons.push(`${what}: not measured`);
      return;
    }
    if (value > limit) this.reasons.push(`${what}: ${round(value)}${unit} > ${limit}${unit}`);
  }

  /** Records `value` as `key`; a reason if it is below `limit`. */
  atLeast(key: string, value: number | null | undefined, limit: number, what: string, unit = ''): void {
    this.headroom[key] = value ?? null;
    if (value === null || value === undefined || Number.isNaN(value)) {
      this.reasons.push(`${what}: not measured`);
      return;
    }
    if (value < limit) this.reasons.push(`${what}: ${round(value)}${unit} < ${limit}${unit}`);
  }

  /** A reason that is not a threshold (a failure the run could not measure around). */
  fail(reason: string): void {
    this.reasons.push(reason);
  }

  /** Takes another validity's reasons and headroom in, keys prefixed. */
  merge(prefix: string, other: Validity): void {
    for (const r of other.reasons) this.reasons.push(`${prefix}: ${r}`);
    for (const [k, v] of Object.entries(other.headroom)) this.headroom[`${prefix}_${k}`] = v;
  }

  get valid(): boolean {
    return this.reasons.length === 0;
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;

/**
 * One reading of every CPU: its idle time (idle + iowait, in USER_HZ jiffies) and when it was
 * read. A CPU's busy time is the wall time less its idle time, not the sum of its busy jiffies:
 * on this VM (a tickless guest) the kernel's tick-sampled user/system/softirq counts of a core
 * busy with network work ran at up to 149 jiffies a second of wall time while its idle time,
 * measured precisely, stayed true — the busy counts made a harness core 70 % busy that was 58 %
 * busy, and "other processes" swung from -18 % to +47 % of a core between identical quiet runs
 * (bench:fanout, 2026-12-07 13:37–13:41). Steal time counts as busy: the core did not run us.
 */
export type CoreSample = { idle: number; steal: number; at: number }[];

/** USER_HZ: the unit of /proc/stat. */
const USER_HZ = 100;

export function coreSample(): CoreSample {
  const at = performance.now() / 1000;
  return fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const f = l.trim().split(/\s+/).slice(1).map(Number);
      return { idle: (f[3]! + f[4]!) / USER_HZ, steal: (f[7] ?? 0) / USER_HZ, at };
    });
}

/** Busy seconds of each CPU between two samples: wall time less idle time, within [0, wall]. */
function coreBusySeconds(a: CoreSample, b: CoreSample): { busy: number; wall: number }[] {
  return b.map((x, i) => {
    const wall = x.at - a[i]!.at;
    return { busy: Math.min(wall, Math.max(0, wall - (x.idle - a[i]!.idle))), wall };
  });
}

/** Busy % of each CPU between two samples. */
export function coreBusyPct(a: CoreSample, b: CoreSample): number[] {
  return coreBusySeconds(a, b).map(({ busy, wall }) => (wall > 0 ? round((busy / wall) * 100) : 0));
}

/** Busy time of the whole machine (all CPUs) between two samples, in % of one core (over the samples' own wall time; `wallSeconds` is the caller's, kept for its callers). */
export function machineBusyPctOfCore(a: CoreSample, b: CoreSample, _wallSeconds?: number): number {
  const cores = coreBusySeconds(a, b);
  const wall = cores[0]?.wall ?? 0;
  return wall > 0 ? round((cores.reduce((n, c) => n + c.busy, 0) / wall) * 100) : 0;
}

/** What every figure is quoted with: machine, its AES-GCM speed, load, date. */
export interface MachineFacts {
  machine: string;
  /** `openssl speed -seconds 3 -bytes 1200 -evp aes-128-gcm`, µs per 1,200-byte packet (null if openssl is missing). */
  openssl_gcm_us_per_1200B: number | null;
  load: number[];
  date: string;
}

/**
 * The openssl figure is measured once per boot (it takes 3 s of one core) and cached in the
 * temp directory under the boot id: machines of this kind differ from boot to boot, not within one.
 */
export function opensslGcmUsPer1200B(): number | null {
  let boot = 'unknown';
  try {
    boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // no boot id: measured every time
  }
  const cache = path.join(os.tmpdir(), `diemcau-openssl-speed-${boot}.json`);
  try {
    return (JSON.parse(fs.readFileSync(cache, 'utf8')) as { us: number }).us;
  } catch {
    // not measured yet this boot
  }
  try {
    const out = execFileSync('openssl', ['speed', '-seconds', '3', '-bytes', '1200', '-evp', 'aes-128-gcm'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    // last line: "AES-128-GCM    1797152.38k" (thousands of bytes per second at 1,200 bytes)
    const m = /(\d+(?:\.\d+)?)k\s*$/.exec(out.trim().split('\n').pop() ?? '');
    if (!m) return null;
    const us = Math.round((1200 / (Number(m[1]) * 1000)) * 1e9) / 1000;
    fs.writeFileSync(cache, JSON.stringify({ us }));
    return us;
  } catch {
    return null;
  }
}

export function machineFacts(): MachineFacts {
  return {
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model.trim() ?? 'unknown cpu'}`,
    openssl_gcm_us_per_1200B: opensslGcmUsPer1200B(),
    load: os.loadavg().map(round),
    date: new Date().toISOString(),
  };
}

/**
 * The last line of a benchmark. Valid: `{valid: true, ...figures, headroom, ...facts}`. Not
 * valid: `{valid: false, invalid_reasons, headroom, not_valid_figures: {...}, ...facts}` — the
 * SFU's figures are kept for diagnosis under a key that says what they are, never at the top.
 * Returns the exit code: 0 when valid, 3 when not.
 */
export function verdictLine(figures: Record<string, unknown>, validity: Validity, facts: MachineFacts, context: Record<string, unknown> = {}): { line: string; exitCode: number } {
  const out = validity.valid
    ? { valid: true, ...figures, ...context, headroom: validity.headroom, ...facts }
    : { valid: false, invalid_reasons: validity.reasons, ...context, headroom: validity.headroom, not_valid_figures: figures, ...facts };
  return { line: JSON.stringify(out), exitCode: validity.valid ? 0 : 3 };
}
