/**
 * npm run bench:fanout — the whole Lạng Sơn conference's media on this machine: 212 bridges,
 * every one publishing (VP8 simulcast + Opus over SRTP plain transports from a load generator,
 * or real Chromium halls over WebRTC), the speaker to all 211 others with the chair's audio, the
 * chair's console with 12 thumbnails, the technicians' wall of all 212 at the low layer.
 * Measures a window, then switches the speaker a few times counting the keyframe requests that
 * reach the new speaker. Prints one JSON object as its last line.
 *
 * Options: --workers N (1) --seconds N (20) --warmup N (6) --browsers N (2) --switches N (6)
 *          --attempts N (3: windows measured until one is valid) --probes N (8) --harness native|node|node-gen (the synthetic load in C, default; the
 *          first Node harness; the Node generator with the native sink) --no-pin --suite-cm (SRTP AES_CM_128_HMAC_SHA1_80 instead of AEAD_AES_128_GCM,
 *          which browsers negotiate with mediasoup) --no-wire (no tcpdump) --health-ms N (the server's
 *          link-health sampling period; 2000 by default)
 * Forwarding latency (fwd_*): tcpdump on lo timestamps the speaker's packets into the SFU and the
 * SFU's copies to the probe halls in the kernel (needs root; else null). e2e_*: generator send →
 * probe receipt in user space, which includes the harness's scheduling.
 * Pinning (default; --no-pin for none), with `taskset -apc` once everything is up: the harness
 * (this process with the server's control plane, the generator, the sinks) on CPU 0; one worker
 * alone on CPU 1 (with --workers 2 the workers float); with 1 worker Chromium joins the harness on
 * CPU 0 at nice 19 (at normal priority, floating, it took CPU from the worker).
 * Valid or nothing (scripts/bench/validity.ts): the last line says `"valid": true` with the
 * harness's headroom, or `"valid": false` with the reasons and the SFU's figures only under
 * `not_valid_figures`, and the command exits 3.
 */
import os from 'node:os';
import { FanoutHarness, percentile } from './fanout/harness.ts';
import { windowValidity } from './fanout/headroom.ts';
import { machineFacts, verdictLine } from './validity.ts';
import { lastInstructionCount } from './instructions/record.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

async function main(): Promise<number> {
  const workers = arg('workers', 1);
  const seconds = arg('seconds', 20);
  const warmup = arg('warmup', 6);
  const switches = arg('switches', 6);
  const attempts = arg('attempts', 3);
  const pin = !process.argv.includes('--no-pin') && os.cpus().length >= 2;
  const suite = process.argv.includes('--suite-cm') ? 'AES_CM_128_HMAC_SHA1_80' : 'AEAD_AES_128_GCM';
  const impl = process.argv.includes('--harness') ? process.argv[process.argv.indexOf('--harness') + 1] : 'native';
  if (impl !== 'native' && impl !== 'node' && impl !== 'node-gen') throw new Error('--harness is native, node or node-gen');
  const facts = machineFacts();
  console.error(`bench:fanout ${facts.date}: ${facts.machine}, AES-128-GCM ${facts.openssl_gcm_us_per_1200B} µs per 1,200 bytes, load ${facts.load.join(' ')}`);
  const harness = new FanoutHarness({ workers, scenario: 'conference', browsers: arg('browsers', 2), pin, probes: arg('probes', 8), suite, wire: !process.argv.includes('--no-wire'), healthIntervalMs: process.argv.includes('--health-ms') ? arg('health-ms', 2000) : undefined, harness: impl });
  let exitCode = 0;
  try {
    await harness.start();
    await new Promise((r) => setTimeout(r, warmup * 1000));
    // On a shared machine other people's work comes in bursts: a window that is not valid is
    // measured again, up to --attempts windows; each is judged on its own and the last is printed.
    let w = await harness.measure(seconds);
    let validity = windowValidity(w);
    let attempt = 1;
    for (; !validity.valid && attempt < attempts; attempt++) {
      console.error(`bench:fanout: window ${attempt} NOT VALID — ${validity.reasons.join('; ')}; measuring again`);
      w = await harness.measure(seconds);
      validity = windowValidity(w);
    }
    console.error(JSON.stringify({ window: w }, null, 1));
    if (!validity.valid) console.error(`bench:fanout: NOT VALID — ${validity.reasons.join('; ')}`);

    // Speaker switches: alternate prepared (setNext first, as the floor queue does) and cold.
    const rotation = ['c-06010', 'd-180', 'c-05971', 'd-186', 'p-20', 'd-178'];
    const results = [];
    // A window that is not valid says so and stops: its switches would count nothing either.
    for (let i = 0; i < (validity.valid ? switches : 0); i++) {
      const r = await harness.switchTo(rotation[i % rotation.length]!, i % 2 === 0);
      console.error(`switch to ${r.to} (${r.prepared ? 'prepared' : 'cold'}): ${r.keyframeRequests} keyframe request(s) at the speaker [${r.requests.join(', ')}], setOnAir ${r.setOnAirMs} ms`);
      results.push(r);
    }
    const kf = results.map((r) => r.keyframeRequests);
    const instructions = lastInstructionCount();
    const figures = {
      bridges: 212,
      consumers: w.consumers,
      consumers_active: w.consumersActive,
      workers,
      out_pps: w.outPps,
      in_pps: w.inPps,
      pipe_pps: w.pipePps,
      us_cpu_per_out_packet: w.usCpuPerOutPacket,
      // Counted by `npm run bench:instructions` on this worker build (valgrind; the same on any
      // machine): read from its last result, not measured in this run.
      worker_instructions_per_out_packet: instructions?.instructionsPerOutPacket ?? null,
      sfu_cpu_pct: w.sfuCpuPct,
      sfu_cores: w.sfuCores,
      loss_pct: w.lossPct,
      fwd_p50_ms: w.fwdP50Ms,
      fwd_p99_ms: w.fwdP99Ms,
      fwd_samples: w.fwdSamples,
      e2e_p50_ms: w.e2eP50Ms,
      e2e_p99_ms: w.e2eP99Ms,
      rss_mb: w.rssMb,
      kf_requests_per_switch_median: percentile(kf, 50),
      kf_requests_per_switch_max: Math.max(...kf, 0),
      server_cpu_pct: w.serverCpuPct,
      harness_cpu_pct: w.harnessCpuPct,
      browsers_cpu_pct: w.browsersCpuPct,
      udp_rcvbuf_errors: w.udpRcvbufErrors,
      sfu_socket_drops: w.sfuSocketDrops,
      harness_socket_drops: w.harnessSocketDrops,
      browsers: w.browsers,
    };
    const context = {
      seconds: w.seconds,
      window_attempts: attempt,
      pinned: pin,
      harness: impl,
      srtp: suite,
      worker: process.env.MEDIASOUP_WORKER_BIN?.split('/').pop(),
      instructions_source: instructions ? `bench:instructions ${instructions.date} (${instructions.consumers} consumers × ${instructions.packets} packets)` : 'none: run npm run bench:instructions',
      harness_processes: w.headroom.processes,
      core_busy_pct: w.headroom.coreBusyPct,
      load_after: os.loadavg().map((x) => Math.round(x * 100) / 100),
    };
    const verdict = verdictLine(figures, validity, facts, context);
    console.log(verdict.line);
    exitCode = verdict.exitCode;
  } finally {
    await harness.close();
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
