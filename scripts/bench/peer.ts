/**
 * npm run bench:peer — diemcau's SFU side by side with a peer SFU, Janus (Debian's package,
 * VideoRoom), on the same workload on the same machine, one after the other: one publisher with
 * VP8 simulcast (three layers) and Opus to N WebRTC subscribers over DTLS-SRTP (real ICE + DTLS,
 * the same native receivers for both). Per SFU: its process's CPU time per packet it sent
 * (median of --runs windows, SFU and harness pinned to different cores) and, under valgrind's
 * callgrind, its instructions per forwarded packet. Prints one JSON object as its last line;
 * exits non-zero when a window was not valid (the harness did not keep up, or other load took the
 * SFU's core), saying why.
 *
 * Options: --subscribers N (100) --seconds N (15, each window) --warmup N (5) --runs N (3; 0:
 *          instruction counts only) --callgrind-subscribers A,B (1,3: instructions from the
 *          difference of the two) --callgrind-seconds N (15) --callgrind-warmup N (10)
 *          --no-callgrind --srtp gcm|cm (gcm, what browsers negotiate)
 *          --janus-event-loops N (0: Janus's default, a thread per handle) --only diemcau|janus
 *          --check (the plumbing only: 3 subscribers, every one receives audio and video that
 *          decrypt; no timing)
 * Runs as root in a network namespace of its own (see peer/netns.ts).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SrtpSuite } from './fanout/srtp.ts';
import { callgrindArgs, dumpInstructions, zeroCounters } from './peer/callgrind.ts';
import { Endpoint } from './peer/endpoint.ts';
import { JanusSfu } from './peer/janus.ts';
import { NETNS_IP, currentNetns, runInNetns } from './peer/netns.ts';
import { DiemcauSfu } from './peer/ours.ts';
import { PeerWorkload, VALIDITY, round, type SfuUnderTest, type WindowResult } from './peer/workload.ts';

const argv = process.argv.slice(2);
function arg(name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}
function text(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] ?? fallback : fallback;
}

type Which = 'diemcau' | 'janus';
const log = (line: string): void => console.error(line);
const pinned = os.cpus().length >= 2;
const HARNESS_CPU = 0;
const SFU_CPU = 1;

function taskset(pid: number, cpu: number): void {
  if (pinned) execFileSync('taskset', ['-apc', String(cpu), String(pid)], { stdio: 'ignore' });
}

function loadAverage(): number[] {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

/** AES-128-GCM on this machine: µs per 1,200-byte packet (openssl speed, on the SFU's core). */
function opensslUsPerPacket(): number {
  const cmd = [...(pinned ? ['taskset', '-c', String(SFU_CPU)] : []), 'openssl', 'speed', '-seconds', '3', '-bytes', '1200', '-evp', 'aes-128-gcm'];
  const out = execFileSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = /^aes-128-gcm\s+([\d.]+)k\s*$/im.exec(out);
  if (!m) throw new Error(`openssl speed: unexpected output\n${out}`);
  return round(1.2e6 / Number(m[1]), 3);
}

interface StartOptions {
  suite: SrtpSuite;
  janusEventLoops: number;
  /** valgrind callgrind output folder: run the SFU under callgrind. */
  callgrindDir?: string;
}

async function startSfu(which: Which, o: StartOptions): Promise<SfuUnderTest> {
  if (which === 'janus') {
    return JanusSfu.start({ ip: NETNS_IP, cpu: pinned ? SFU_CPU : undefined, eventLoops: o.janusEventLoops, wrapper: o.callgrindDir ? ['valgrind', ...callgrindArgs(o.callgrindDir)] : undefined, log });
  }
  const saved = { use: process.env.MEDIASOUP_USE_VALGRIND, options: process.env.MEDIASOUP_VALGRIND_OPTIONS };
  if (o.callgrindDir) {
    process.env.MEDIASOUP_USE_VALGRIND = 'true';
    process.env.MEDIASOUP_VALGRIND_OPTIONS = callgrindArgs(o.callgrindDir).join(' ');
  }
  try {
    const sfu = await DiemcauSfu.start(NETNS_IP);
    taskset(sfu.pid, SFU_CPU);
    return sfu;
  } finally {
    if (saved.use === undefined) delete process.env.MEDIASOUP_USE_VALGRIND;
    else process.env.MEDIASOUP_USE_VALGRIND = saved.use;
    if (saved.options === undefined) delete process.env.MEDIASOUP_VALGRIND_OPTIONS;
    else process.env.MEDIASOUP_VALGRIND_OPTIONS = saved.options;
  }
}

/** Starts an SFU and an endpoint, runs `body` on the connected workload, closes everything. */
async function withWorkload<T>(which: Which, subscribers: number, o: StartOptions, body: (w: PeerWorkload) => Promise<T>): Promise<T> {
  const endpoint = await Endpoint.start();
  let sfu: SfuUnderTest | undefined;
  let w: PeerWorkload | undefined;
  try {
    sfu = await startSfu(which, o);
    w = await PeerWorkload.start(sfu, endpoint, { ip: NETNS_IP, subscribers, suite: o.suite, sfuCpu: pinned ? SFU_CPU : undefined, log });
    return await body(w);
  } finally {
    await w?.close();
    await sfu?.close();
    await endpoint.close();
  }
}

interface TimedRun extends WindowResult {
  sfu: Which;
  run: number;
  loadBefore: number[];
  loadAfter: number[];
}

/**
 * Instructions per forwarded packet: over equal windows with more and more subscribers, the slope
 * of instructions against packets (least squares; with two windows (I(B) − I(A)) / (P(B) − P(A))).
 */
async function countInstructions(which: Which, counts: number[], seconds: number, warmup: number, o: StartOptions): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `diemcau-peer-callgrind-${which}-`));
  try {
    return await withWorkload(which, counts[0], { ...o, callgrindDir: dir }, async (w) => {
      const windows: { subscribers: number; instructions: number; window: WindowResult }[] = [];
      for (const n of counts) {
        if (w.subscriberIds.length < n) await w.addSubscribers(n - w.subscriberIds.length);
        // Under valgrind a new PeerConnection takes seconds to settle (ICE, DTLS, threads, lazy
        // binding): the window opens only after that.
        await new Promise((r) => setTimeout(r, warmup * 1000));
        let instructions = 0;
        const window = await w.measure(seconds, {
          opened: () => zeroCounters(w.sfu.pid),
          closing: async () => {
            instructions = await dumpInstructions(dir, w.sfu.pid);
          },
        });
        log(`${which} callgrind: ${n} subscribers, ${window.packets} packets, ${instructions} instructions (${round(instructions / Math.max(1, window.packets), 0)} a packet), loss ${window.lossPct} %, SFU CPU ${window.sfuCpuPct} %`);
        windows.push({ subscribers: n, instructions, window });
      }
      const reasons: string[] = [];
      for (const x of windows) {
        if (x.window.lost > 0 || x.window.sfuSocketDrops > 0) reasons.push(`${x.subscribers} subscribers: ${x.window.lost} lost, ${x.window.sfuSocketDrops} dropped at the SFU (valgrind did not keep up)`);
        if (x.window.harnessSocketDrops > 0) reasons.push(`${x.subscribers} subscribers: ${x.window.harnessSocketDrops} dropped at the harness`);
        if (x.window.subscribersReceiving < x.subscribers) reasons.push(`${x.subscribers} subscribers: only ${x.window.subscribersReceiving} received audio and video`);
      }
      const p = windows.map((x) => x.window.packets);
      const i = windows.map((x) => x.instructions);
      const pm = p.reduce((s, x) => s + x, 0) / p.length;
      const im = i.reduce((s, x) => s + x, 0) / i.length;
      const perPacket = p.reduce((s, x, k) => s + (x - pm) * (i[k]! - im), 0) / Math.max(1, p.reduce((s, x) => s + (x - pm) ** 2, 0));
      // What the windows spend apart from the packets: per second, the same in every window if the line fits.
      const fixed = windows.map((x) => Math.round((x.instructions - perPacket * x.window.packets) / x.window.seconds));
      return {
        version: w.sfu.version,
        instructions_per_packet: Math.round(perPacket),
        fixed_instructions_per_second: fixed,
        windows: windows.map((x) => ({ subscribers: x.subscribers, seconds: x.window.seconds, packets: x.window.packets, instructions: x.instructions, instructions_per_packet: Math.round(x.instructions / Math.max(1, x.window.packets)), loss_pct: x.window.lossPct, sfu_cpu_pct: x.window.sfuCpuPct })),
        valid: reasons.length === 0,
        reasons,
      };
    });
  } finally {
    if (process.env.DIEMCAU_PEER_KEEP_CALLGRIND) log(`callgrind dumps of ${which} kept in ${dir} (callgrind_annotate reads them)`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The plumbing of both SFUs at once (nothing is timed): 3 subscribers each. */
async function check(o: StartOptions, which: Which[]): Promise<boolean> {
  const out: Record<string, unknown> = {};
  let ok = true;
  await Promise.all(which.map(async (sfu) => {
    const result = await withWorkload(sfu, 3, o, async (w) => {
      // Until every subscriber has had its first packets of both kinds, at most 15 s.
      for (const until = Date.now() + 15_000; Date.now() < until; ) {
        const c = await w.check();
        if (c.every((s) => s.streams.filter((x) => x.decrypted > 0 && x.packets > 10).length >= 2)) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      return { version: w.sfu.version, srtp: w.keys.get(w.subscriberIds[0]!)?.suite, subscribers: (await w.check()).map((s) => ({ ...s, kinds: s.streams.map((x) => w.sfu.kindOf(x.pt)) })) };
    });
    const good = result.subscribers.length === 3 && result.subscribers.every((s) => ['audio', 'video'].every((k) => s.streams.some((x, i) => s.kinds[i] === k && x.packets > 10 && x.decrypted === x.samples && x.samples > 0)));
    ok &&= good;
    out[sfu] = { ...result, ok: good };
  }));
  console.log(JSON.stringify({ check: out, ok }));
  return ok;
}

async function main(): Promise<number> {
  const here = fileURLToPath(import.meta.url);
  if (!currentNetns()) return runInNetns(here, argv);
  // Janus is not our child in the sense of a pipe it would notice closing: kill it with us.
  process.on('exit', () => JanusSfu.killAll());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  if (pinned) taskset(process.pid, HARNESS_CPU);
  const o: StartOptions = { suite: text('srtp', 'gcm') === 'cm' ? 'AES_CM_128_HMAC_SHA1_80' : 'AEAD_AES_128_GCM', janusEventLoops: arg('janus-event-loops', 0) };
  const only = text('only', '');
  const which: Which[] = only === 'diemcau' || only === 'janus' ? [only] : ['diemcau', 'janus'];
  if (argv.includes('--check')) return (await check(o, which)) ? 0 : 1;

  // 100: the harness would carry several times more (harness_subscribers_estimate), but Janus
  // forwards on one core, over half of it at 100 on a machine where openssl speed gives 0.59 µs
  // (a loaded trial run), most of it on the slower machine of issue 14 (0.88 µs). Beyond that
  // Janus drops, and its cost per packet would be a saturated process's (docs/benchmarks.md).
  const subscribers = arg('subscribers', 100);
  const seconds = arg('seconds', 15);
  const warmup = arg('warmup', 5);
  const runs = arg('runs', 3);
  const cgCounts = text('callgrind-subscribers', '1,3').split(',').map(Number);
  if (cgCounts.length < 2 || cgCounts.some((n, k) => !Number.isInteger(n) || n < 1 || (k > 0 && n <= cgCounts[k - 1]!))) throw new Error('--callgrind-subscribers needs two or more increasing counts, e.g. 1,3');
  const cgSeconds = arg('callgrind-seconds', 15);
  const cgWarmup = arg('callgrind-warmup', 10);
  const openssl = opensslUsPerPacket();
  log(`openssl speed aes-128-gcm, 1200 bytes: ${openssl} µs a packet`);
  const loadAtStart = loadAverage();

  const timed: TimedRun[] = [];
  const versions: Partial<Record<Which, string>> = {};
  for (let run = 1; run <= runs; run++) {
    for (const sfu of which) {
      const loadBefore = loadAverage();
      const r = await withWorkload(sfu, subscribers, o, async (w) => {
        versions[sfu] = w.sfu.version;
        await new Promise((res) => setTimeout(res, warmup * 1000));
        return w.measure(seconds);
      });
      timed.push({ sfu, run, ...r, loadBefore, loadAfter: loadAverage() });
      log(`run ${run} ${sfu}: ${r.usPerPacket} µs a packet (${r.packets} packets, SFU ${r.sfuCpuPct} % of a core, its core ${r.coreUsPerPacket} µs a packet, other work there ${r.sfuCoreOtherPct} %), loss ${r.lossPct} %, ${r.keyframeRequests} keyframe requests, ${r.duplicates} duplicates, video ${r.videoPpsPerSubscriber} pps ${r.videoKbpsPerSubscriber} kbps a subscriber, harness ${r.harnessCpuPct} % (endpoint ${r.endpointCpuPct} %, ${r.endpointUsPerPacket} µs a packet; generator ${r.generatorCpuPct} %; signalling ${r.orchestratorCpuPct} %), generator p99 ${r.generatorLoopP99Ms} ms${r.valid ? '' : ` — NOT VALID: ${r.reasons.join('; ')}`}`);
    }
  }

  const instructions: Partial<Record<Which, Record<string, unknown>>> = {};
  if (!argv.includes('--no-callgrind')) {
    for (const sfu of which) {
      instructions[sfu] = await countInstructions(sfu, cgCounts, cgSeconds, cgWarmup, o);
      versions[sfu] ??= instructions[sfu]!.version as string;
    }
  }

  const of = (sfu: Which): TimedRun[] => timed.filter((t) => t.sfu === sfu);
  const med = (sfu: Which, f: (t: TimedRun) => number): number | null => (of(sfu).length ? round(median(of(sfu).map(f)), 3) : null);
  const reasons = [
    ...timed.filter((t) => !t.valid).map((t) => `run ${t.run} ${t.sfu}: ${t.reasons.join('; ')}`),
    ...Object.entries(instructions).filter(([, v]) => !v!.valid).map(([k, v]) => `callgrind ${k}: ${(v!.reasons as string[]).join('; ')}`),
  ];
  const ours = med('diemcau', (t) => t.usPerPacket);
  const peer = med('janus', (t) => t.usPerPacket);
  const oursI = (instructions.diemcau?.instructions_per_packet as number | undefined) ?? null;
  const peerI = (instructions.janus?.instructions_per_packet as number | undefined) ?? null;
  const out = {
    peer: versions.janus ?? 'janus',
    ours: versions.diemcau ?? 'diemcau',
    subscribers,
    ours_us_per_packet: ours,
    peer_us_per_packet: peer,
    ratio: ours && peer ? round(peer / ours, 2) : null,
    ours_instructions_per_packet: oursI,
    peer_instructions_per_packet: peerI,
    instructions_ratio: oursI && peerI ? round(peerI / oursI, 2) : null,
    ours_core_us_per_packet: med('diemcau', (t) => t.coreUsPerPacket ?? NaN),
    peer_core_us_per_packet: med('janus', (t) => t.coreUsPerPacket ?? NaN),
    ours_loss_pct: med('diemcau', (t) => t.lossPct),
    peer_loss_pct: med('janus', (t) => t.lossPct),
    ours_sfu_cpu_pct: med('diemcau', (t) => t.sfuCpuPct),
    peer_sfu_cpu_pct: med('janus', (t) => t.sfuCpuPct),
    ours_out_pps: med('diemcau', (t) => t.outPps),
    peer_out_pps: med('janus', (t) => t.outPps),
    ours_video_kbps_per_subscriber: med('diemcau', (t) => t.videoKbpsPerSubscriber),
    peer_video_kbps_per_subscriber: med('janus', (t) => t.videoKbpsPerSubscriber),
    harness_cpu_pct_max: timed.length ? Math.max(...timed.map((t) => t.harnessCpuPct)) : null,
    harness_endpoint_us_per_packet: timed.length ? round(median(timed.map((t) => t.endpointUsPerPacket)), 3) : null,
    // Subscribers the harness could carry within its CPU limit: its fixed part (generator,
    // signalling) plus the endpoint's part, which grows with the subscribers.
    harness_subscribers_estimate: timed.length ? Math.floor(median(timed.map((t) => ((VALIDITY.harnessCpuPct - t.generatorCpuPct - t.orchestratorCpuPct) * subscribers) / Math.max(0.1, t.endpointCpuPct)))) : null,
    openssl_aes_128_gcm_1200_bytes_us: openssl,
    load_average: { start: loadAtStart, end: loadAverage() },
    runs: timed.map((t) => ({ sfu: t.sfu, run: t.run, us_per_packet: t.usPerPacket, packets: t.packets, out_pps: t.outPps, in_pps: t.inPps, sfu_cpu_pct: t.sfuCpuPct, sfu_wait_pct: t.sfuWaitPct, sfu_core_other_pct: t.sfuCoreOtherPct, core_us_per_packet: t.coreUsPerPacket, loss_pct: t.lossPct, sfu_socket_drops: t.sfuSocketDrops, video_pps_per_subscriber: t.videoPpsPerSubscriber, video_kbps_per_subscriber: t.videoKbpsPerSubscriber, audio_pps_per_subscriber: t.audioPpsPerSubscriber, harness_cpu_pct: t.harnessCpuPct, endpoint_cpu_pct: t.endpointCpuPct, generator_cpu_pct: t.generatorCpuPct, orchestrator_cpu_pct: t.orchestratorCpuPct, endpoint_us_per_packet: t.endpointUsPerPacket, harness_socket_drops: t.harnessSocketDrops, generator_loop_p99_ms: t.generatorLoopP99Ms, keyframe_requests: t.keyframeRequests, duplicates: t.duplicates, load_before: t.loadBefore, load_after: t.loadAfter, valid: t.valid })),
    callgrind: { subscribers: cgCounts, seconds: cgSeconds, ...instructions },
    seconds,
    srtp: o.suite,
    janus_event_loops: o.janusEventLoops,
    pinned,
    cpu: os.cpus()[0]?.model,
    date: new Date().toISOString(),
    valid: reasons.length === 0,
    reasons,
  };
  console.log(JSON.stringify(out));
  return out.valid ? 0 : 2;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
