/**
 * npm run bench:sweep — the cost curve of the fan-out: the programme (speaker video at 3
 * simulcast layers + speaker audio + chair audio, all SRTP) to a growing number of receive-only
 * peers, so that consumers go over 50, 200, 500, 1000, 2000, on 1 and on 2 workers. Records the
 * same figures as bench:fanout for each point, writes docs/img/fanout-sweep.svg and
 * docs/bench/sweep.json, and prints one JSON object (all points) as its last line.
 *
 * Valid or nothing: each point carries the harness's headroom (scripts/bench/validity.ts); only
 * valid points are drawn and written as points, the others are listed with their reasons, and
 * the command exits 3 if any point was not valid.
 *
 * Options: --seconds N (10 per point) --warmup N (3) --consumers 50,200,... --workers 1,2
 *          --from-json docs/bench/sweep.json (redraw the picture only)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FanoutHarness, round } from './fanout/harness.ts';
import { windowValidity } from './fanout/headroom.ts';
import { machineFacts } from './validity.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

interface Point {
  workers: number;
  consumers_target: number;
  consumers: number;
  out_pps: number;
  pipe_pps: number;
  us_cpu_per_out_packet: number;
  sfu_cpu_pct: number;
  sfu_cores: number;
  loss_pct: number;
  udp_rcvbuf_errors: number;
  sfu_socket_drops: number;
  harness_socket_drops: number;
  fwd_p50_ms: number | null;
  fwd_p99_ms: number | null;
  e2e_p50_ms: number;
  e2e_p99_ms: number;
  rss_mb: number;
  harness_cpu_pct: number;
  /** The harness kept up at this point (scripts/bench/validity.ts); only valid points are drawn. */
  valid: boolean;
  invalid_reasons?: string[];
  headroom?: Record<string, number | string | null>;
}

function titleOf(date: string): string {
  return `bench:sweep — ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, ${date.slice(0, 16).replace('T', ' ')} UTC; hollow: loss over 1 %, saturated`;
}

/** How long one point may take, set-up included. */
const POINT_LIMIT_S = 240;

async function point(workers: number, consumers: number, seconds: number, warmup: number): Promise<Point> {
  // Each viewer holds 3 consumers: the speaker's video and audio and the chair's audio.
  const harness = new FanoutHarness({ workers, scenario: 'viewers', viewers: Math.max(1, Math.round(consumers / 3)), browsers: 0, pin: workers === 1 && os.cpus().length >= 2, probes: 4, log: () => undefined });
  try {
    await harness.start();
    await new Promise((r) => setTimeout(r, warmup * 1000));
    const w = await harness.measure(seconds);
    const validity = windowValidity(w);
    return {
      valid: validity.valid,
      ...(validity.valid ? {} : { invalid_reasons: validity.reasons }),
      headroom: validity.headroom,
      workers,
      consumers_target: consumers,
      consumers: w.consumers,
      out_pps: w.outPps,
      pipe_pps: w.pipePps,
      us_cpu_per_out_packet: w.usCpuPerOutPacket,
      sfu_cpu_pct: w.sfuCpuPct,
      sfu_cores: w.sfuCores,
      loss_pct: w.lossPct,
      udp_rcvbuf_errors: w.udpRcvbufErrors,
      sfu_socket_drops: w.sfuSocketDrops,
      harness_socket_drops: w.harnessSocketDrops,
      fwd_p50_ms: w.fwdP50Ms,
      fwd_p99_ms: w.fwdP99Ms,
      e2e_p50_ms: w.e2eP50Ms,
      e2e_p99_ms: w.e2eP99Ms,
      rss_mb: w.rssMb,
      harness_cpu_pct: w.harnessCpuPct,
    };
  } finally {
    await harness.close();
  }
}

/** Three panels: worker CPU (cores) against packets sent, µs of CPU per packet and forwarding p99 against consumers. */
function svg(allPoints: Point[], title: string): string {
  const W = 1350;
  const H = 380;
  // Saturated points (loss over 1 %) are drawn hollow and off the lines: past saturation the
  // figures describe an overloaded worker (retransmissions, dropped input), not the cost curve.
  const saturated = (p: Point): boolean => p.loss_pct > 1;
  const panel = (x0: number, label: string, xLabel: string, xs: (p: Point) => number, ys: (p: Point) => number, yLabel: string, all = true): string => {
    const points = all ? allPoints : allPoints.filter((p) => !saturated(p));
    const pw = 380;
    const ph = 260;
    const y0 = 60;
    const maxX = Math.max(...points.map(xs)) * 1.05;
    const maxY = Math.max(...points.map(ys)) * 1.15 || 1;
    const sx = (v: number): number => x0 + 50 + (v / maxX) * pw;
    const sy = (v: number): number => y0 + ph - (v / maxY) * ph;
    let out = `<text x="${x0 + 50 + pw / 2}" y="${y0 - 12}" text-anchor="middle" font-size="14" font-weight="bold">${label}</text>`;
    out += `<line x1="${x0 + 50}" y1="${y0 + ph}" x2="${x0 + 50 + pw}" y2="${y0 + ph}" stroke="#333"/><line x1="${x0 + 50}" y1="${y0}" x2="${x0 + 50}" y2="${y0 + ph}" stroke="#333"/>`;
    for (let i = 0; i <= 4; i++) {
      const v = (maxY * i) / 4;
      out += `<text x="${x0 + 44}" y="${sy(v) + 4}" text-anchor="end" font-size="11">${round(v, v < 10 ? 2 : 0)}</text><line x1="${x0 + 50}" y1="${sy(v)}" x2="${x0 + 50 + pw}" y2="${sy(v)}" stroke="#ddd"/>`;
      const xv = (maxX * i) / 4;
      out += `<text x="${sx(xv)}" y="${y0 + ph + 16}" text-anchor="middle" font-size="11">${Math.round(xv)}</text>`;
    }
    out += `<text x="${x0 + 50 + pw / 2}" y="${y0 + ph + 36}" text-anchor="middle" font-size="12">${xLabel}</text>`;
    out += `<text x="${x0 + 12}" y="${y0 + ph / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 12} ${y0 + ph / 2})">${yLabel}</text>`;
    const colours: Record<number, string> = { 1: '#c0392b', 2: '#2471a3' };
    for (const workers of [...new Set(points.map((p) => p.workers))]) {
      const ps = points.filter((p) => p.workers === workers).sort((a, b) => xs(a) - xs(b));
      const c = colours[workers] ?? '#555';
      out += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${ps.filter((p) => !saturated(p)).map((p) => `${sx(xs(p))},${sy(ys(p))}`).join(' ')}"/>`;
      // A hollow point: the SFU lost packets there (over 1 %), it is past saturation.
      for (const p of ps) out += `<circle cx="${sx(xs(p))}" cy="${sy(ys(p))}" r="4" fill="${saturated(p) ? 'white' : c}" stroke="${c}" stroke-width="2"><title>${p.consumers} consumers, ${p.workers} worker(s): ${ys(p)}; loss ${p.loss_pct} %</title></circle>`;
    }
    return out;
  };
  const legend = [1, 2].map((w, i) => `<rect x="${60 + i * 130}" y="${H - 18}" width="12" height="12" fill="${w === 1 ? '#c0392b' : '#2471a3'}"/><text x="${78 + i * 130}" y="${H - 8}" font-size="12">${w} worker${w > 1 ? 's' : ''}</text>`).join('') +
    `<circle cx="${326}" cy="${H - 12}" r="4" fill="white" stroke="#555" stroke-width="2"/><text x="${336}" y="${H - 8}" font-size="12">loss over 1 % (saturated)</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="15">${title}</text>
${panel(0, 'Worker CPU against packets sent', 'packets sent per second (thousands)', (p) => p.out_pps / 1000, (p) => p.sfu_cores, 'worker CPU (cores)')}
${panel(450, 'CPU per outgoing packet', 'consumers', (p) => p.consumers, (p) => p.us_cpu_per_out_packet, 'µs of worker CPU per packet')}
${panel(900, 'Forwarding p99 (unsaturated points)', 'consumers', (p) => p.consumers, (p) => p.fwd_p99_ms ?? p.e2e_p99_ms, 'SFU receipt → send, p99 (ms)', false)}
${legend}
</svg>
`;
}

async function main(): Promise<number> {
  const from = arg('from-json', '');
  if (from) {
    // Redraws docs/img/fanout-sweep.svg from a recorded sweep (no measurement).
    const rec = JSON.parse(fs.readFileSync(from, 'utf8')) as { date: string; points: Point[] };
    fs.writeFileSync(path.join(root, 'docs/img/fanout-sweep.svg'), svg(rec.points.filter((p) => p.valid !== false), titleOf(rec.date)));
    return 0;
  }
  const seconds = Number(arg('seconds', '10'));
  const warmup = Number(arg('warmup', '3'));
  const consumers = arg('consumers', '50,200,500,1000,2000').split(',').map(Number);
  const workers = arg('workers', '1,2').split(',').map(Number);
  const points: Point[] = [];
  const failed: { workers: number; consumers_target: number }[] = [];
  for (const w of workers) {
    for (const c of consumers) {
      // A point that cannot be set up or measured in time (a saturated worker answers its
      // requests late) is reported as such and left out of the picture.
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), POINT_LIMIT_S * 1000)));
      const p = await Promise.race([point(w, c, seconds, warmup).catch((e: Error) => (console.error(`point ${w}×${c}: ${e.message}`), null)), limit]);
      clearTimeout(timer);
      if (!p) {
        console.error(JSON.stringify({ workers: w, consumers_target: c, failed: `not done within ${POINT_LIMIT_S} s` }));
        failed.push({ workers: w, consumers_target: c });
        continue;
      }
      console.error(JSON.stringify(p));
      points.push(p);
    }
  }
  const facts = machineFacts();
  const date = facts.date;
  const title = titleOf(date);
  // Only points where the harness kept up are drawn; the others are listed with their reasons.
  const valid = points.filter((p) => p.valid);
  const invalid = points.filter((p) => !p.valid).map((p) => ({ workers: p.workers, consumers_target: p.consumers_target, invalid_reasons: p.invalid_reasons }));
  const allValid = invalid.length === 0 && failed.length === 0;
  if (!allValid) console.error(`bench:sweep: NOT VALID at ${invalid.length + failed.length} point(s): ${JSON.stringify([...invalid, ...failed])}`);
  fs.mkdirSync(path.join(root, 'docs/img'), { recursive: true });
  fs.mkdirSync(path.join(root, 'docs/bench'), { recursive: true });
  if (valid.length) fs.writeFileSync(path.join(root, 'docs/img/fanout-sweep.svg'), svg(valid, title));
  fs.writeFileSync(path.join(root, 'docs/bench/sweep.json'), JSON.stringify({ ...facts, valid: allValid, points: valid, invalid, failed }, null, 1) + '\n');
  console.log(JSON.stringify({ valid: allValid, ...(allValid ? {} : { invalid_reasons: [...invalid.map((p) => `${p.workers}×${p.consumers_target}: ${p.invalid_reasons!.join('; ')}`), ...failed.map((f) => `${f.workers}×${f.consumers_target}: not done in time`)] }), points: valid, not_valid_points: invalid, failed, ...facts }));
  return allValid ? 0 : 3;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
