/**
 * npm run bench:instructions — the mediasoup worker's instructions per forwarded packet on a
 * fixed workload, counted by valgrind (callgrind): a figure that does not move with the machine
 * or its load, unlike µs of CPU (hardware counters are not available on these VMs).
 *
 * The workload is the meeting's programme: one speaker publishing VP8 simulcast (3 layers, from
 * the harness's clip) and Opus over an SRTP plain transport (AEAD_AES_128_GCM), consumed by N
 * receivers each on its own SRTP plain transport (video at the top layer, and audio). The worker
 * runs under `valgrind --tool=callgrind` (mediasoup's MEDIASOUP_USE_VALGRIND: the channel keeps
 * its fds 3–6) with collection only inside RTC::UdpSocket::UserOnUdpDatagramReceived — the
 * receipt of a packet and everything it causes: decryption, routing, N copies, N encryptions,
 * N sendmsg calls (user-space instructions; the kernel is not counted) — and, from the d6 worker
 * on, inside UdpSocketHandler::OnUvFlushCheck, where the datagrams batched by those receipts leave
 * with sendmmsg at the end of the loop turn. Timers (RTCP, stats) and the channel run outside
 * them and are not counted.
 *
 * Not forwarding is subtracted: a warm-up (until every consumer forwards the top layer) is
 * followed by `callgrind_control --zero`; then a fixed sequence of input packets (the clip from
 * its first frame, every layer and the audio in time order, fixed sequence numbers) is sent in
 * a closed loop — each batch waits for its copies to arrive, so the worker never drops — and
 * `callgrind_control --dump` gives the instructions of that sequence alone. Divided by the
 * packets the consumers sent (their stats), it is the figure; the same build gives the same
 * number on any machine and under any load (docs/benchmarks.md shows three runs).
 *
 * Options: --consumers N (200) --packets N (measured input packets, 2000) --runs N (1)
 *          --load-run K (run K has busy loops on every CPU; 0 = none) --keep (keep the dumps)
 * Prints one JSON object as its last line; the result is saved for bench:fanout (by worker hash).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Validity, machineFacts, verdictLine } from './validity.ts';
import { STANDARD_WORKLOAD, saveInstructionCount, workerSha256 } from './instructions/record.ts';
import { COUNTED, SUITE, countOnce, type Run } from './instructions/count.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}
const CONSUMERS = arg('consumers', STANDARD_WORKLOAD.consumers);
const PACKETS = arg('packets', STANDARD_WORKLOAD.packets);
const RUNS = arg('runs', 1);
const LOAD_RUN = arg('load-run', 0);
const KEEP = process.argv.includes('--keep');
/** Without valgrind (to try the workload quickly; counts nothing). */
const NO_VALGRIND = process.argv.includes('--no-valgrind');

async function main(): Promise<number> {
  const facts = machineFacts();
  const valgrind = execFileSync('valgrind', ['--version'], { encoding: 'utf8' }).trim();
  console.error(`bench:instructions ${facts.date}: ${CONSUMERS} consumers × ${PACKETS} input packets, ${RUNS} run(s), ${valgrind}; load ${facts.load.join(' ')}`);
  const runs: Run[] = [];
  const validity = new Validity();
  for (let i = 1; i <= RUNS; i++) {
    // A run whose workload moved (the worker too slow for mediasoup's timers) counts nothing.
    // A refused run is tried once more (it says so): rarely, a consumer forwards one packet more or less than the fixed sequence.
    let r: Run | null = null;
    for (let attempt = 1; attempt <= 2 && !r; attempt++) {
      r = await countOnce({ consumers: CONSUMERS, packets: PACKETS, loaded: i === LOAD_RUN, keep: KEEP, noValgrind: NO_VALGRIND }).catch((e: Error) => {
        console.error(`run ${i}, attempt ${attempt}: NOT VALID — ${e.message}`);
        if (attempt === 2) validity.fail(`run ${i}: ${e.message}`);
        return null;
      });
    }
    if (!r) continue;
    console.error(`run ${i}${r.loaded ? ' (busy loops on every CPU)' : ''}: ${r.instructions} instructions for ${r.inPackets} packets in, ${r.outPackets} out: ${r.instructionsPerOutPacket} per packet out (${r.seconds} s under valgrind; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
    runs.push(r);
  }
  const per = runs.map((r) => r.instructionsPerOutPacket);
  const median = per.length ? [...per].sort((a, b) => a - b)[Math.floor(per.length / 2)]! : NaN;
  const spreadPct = per.length ? Math.round(((Math.max(...per) - Math.min(...per)) / median) * 10000) / 100 : NaN;
  if (NO_VALGRIND) validity.fail('--no-valgrind: nothing counted');
  const worker = process.env.MEDIASOUP_WORKER_BIN ?? '';
  if (validity.valid) saveInstructionCount({ worker: path.basename(worker), workerSha256: workerSha256(worker), consumers: CONSUMERS, packets: PACKETS, instructionsPerOutPacket: median, runs: per, date: facts.date });
  const verdict = verdictLine({
    worker_instructions_per_out_packet: median,
    runs: per,
    spread_pct: spreadPct,
    consumers: CONSUMERS,
    packets_in: PACKETS,
    packets_out: runs[0]?.outPackets ?? null,
    counted: COUNTED,
    srtp: SUITE,
    valgrind,
    worker: path.basename(worker),
    worker_sha256: workerSha256(worker).slice(0, 16),
    loaded_run: LOAD_RUN || null,
  }, validity, facts);
  console.log(verdict.line);
  return verdict.exitCode;
}

main().then((code) => process.exit(code), (e: unknown) => (console.error(e), process.exit(1)));
