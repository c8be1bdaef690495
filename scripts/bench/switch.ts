/**
 * npm run bench:switch — switches the programme between bridges with real Chromium halls and
 * measures, per switch, the time from the switch call to the first decoded frame of the new
 * speaker at the slowest receiving hall. Prints one JSON object as its last line.
 *
 * Two kinds of switch alternate:
 *  - cold: `setOnAir(X)` with nothing prepared (the chair gives the floor to a hall out of
 *    the blue): every hall is handed new consumers, all resumed together on one keyframe;
 *  - prepared: `setNext(X)` a while before (X heads the floor queue), then `setOnAir(X)`:
 *    the halls already hold paused consumers of X, the switch only resumes them.
 * The headline `switch_p50_ms`/`switch_p95_ms` are over all switches; each kind is also given.
 *
 * Options: --bridges N (default 4, at least 3) --switches N (default 24) --workers N (default 2)
 *          --gap-ms N (pause between switches, default 1500)
 */
import os from 'node:os';
import type { Page } from 'puppeteer-core';
import { inviteUrl, startTestServer } from '../../test/helpers/server.ts';
import { launchChromium, openPage, waitFor } from '../../test/helpers/chromium.ts';
import { pageFirstFrames, pageState } from '../../test/helpers/hall-page.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const BRIDGE_ORDER = ['p-20', 'd-178', 'c-06010', 'd-186', 'c-06634', 'd-180', 'c-06460', 'd-187'];

interface SwitchResult {
  to: string;
  kind: 'cold' | 'prepared';
  slowestMs: number;
  perHall: number[];
  keyframeRequests: number;
}

async function main(): Promise<void> {
  const nBridges = arg('bridges', 4);
  const nSwitches = arg('switches', 24);
  const workers = arg('workers', 2);
  const gapMs = arg('gap-ms', 1500);
  if (nBridges < 3 || nBridges > BRIDGE_ORDER.length) throw new Error(`--bridges must be 3..${BRIDGE_ORDER.length}`);
  const bridges = BRIDGE_ORDER.slice(0, nBridges);

  const server = await startTestServer(workers);
  const chromium = await launchChromium();
  const log: string[] = [];
  try {
    const pages = new Map<string, Page>();
    for (const b of bridges) pages.set(b, await openPage(chromium.browser, await inviteUrl(server, b), log));
    for (const [b, page] of pages) {
      await waitFor(`${b} live`, async () => {
        const s = await pageState(page);
        return s.state === 'live' && s.publishing.cam;
      }, 60_000);
    }
    // Let encoders and bandwidth estimation settle.
    await new Promise((r) => setTimeout(r, 4000));

    const targets = bridges.filter((b) => b !== 'p-20');
    const order: string[] = [];
    for (let i = 0; order.length < nSwitches; i++) {
      order.push(targets[i % targets.length]!);
      if (order.length < nSwitches && i % targets.length === targets.length - 1) order.push('p-20');
    }

    const results: SwitchResult[] = [];
    let previous = 'p-20';
    for (const [n, to] of order.entries()) {
      const kind: SwitchResult['kind'] = n % 2 === 0 ? 'cold' : 'prepared';
      if (kind === 'prepared') {
        await server.media.setNext(to);
        await new Promise((r) => setTimeout(r, gapMs));
      }
      const speaker = server.media.snapshot().peers.find((p) => p.bridgeId === to);
      const camId = speaker?.producers.find((x) => x.source === 'cam')?.id;
      const kfBefore = camId ? await server.media.producerKeyframeRequests(camId) : 0;
      const t0 = Date.now();
      await Promise.all([server.media.setOnAir(to), server.media.setOpenMicrophones([server.media.chairBridgeId, to])]);
      // Halls that switch: not the speaker, and not a hall that already showed this bridge (the
      // previous speaker keeps seeing the chair when the floor returns to the chair).
      const receivers = bridges.filter((b) => b !== to && !(to === 'p-20' && (b === 'p-20' || b === previous)));
      const perHall: number[] = [];
      for (const b of receivers) {
        const first = await waitFor(`${b} first frame of ${to}`, async () => {
          const frames = await pageFirstFrames(pages.get(b)!);
          return frames.find((x) => x.slot === 'onair' && x.bridgeId === to && x.firstDecodedAt && (x.activatedAt ?? 0) >= t0);
        }, 10_000, 20);
        perHall.push(first.firstDecodedAt! - t0);
      }
      previous = to;
      await new Promise((r) => setTimeout(r, gapMs));
      const keyframeRequests = camId ? (await server.media.producerKeyframeRequests(camId)) - kfBefore : 0;
      const slowestMs = Math.max(...perHall);
      results.push({ to, kind, slowestMs, perHall, keyframeRequests });
      console.log(
        `switch ${String(n + 1).padStart(2)} ${kind.padEnd(8)} → ${to.padEnd(8)} slowest ${String(slowestMs).padStart(4)} ms` +
          `  halls [${perHall.join(', ')}]  keyframe requests at the speaker ${keyframeRequests}`,
      );
    }
    const of = (k?: SwitchResult['kind']): number[] => results.filter((r) => !k || r.kind === k).map((r) => r.slowestMs);
    const kf = results.map((r) => r.keyframeRequests);
    const summary = {
      bridges: nBridges,
      switches: results.length,
      workers,
      switch_p50_ms: percentile(of(), 50),
      switch_p95_ms: percentile(of(), 95),
      switch_max_ms: Math.max(...of()),
      cold_p50_ms: percentile(of('cold'), 50),
      cold_p95_ms: percentile(of('cold'), 95),
      prepared_p50_ms: percentile(of('prepared'), 50),
      prepared_p95_ms: percentile(of('prepared'), 95),
      keyframe_requests_per_switch_p50: percentile(kf, 50),
      keyframe_requests_per_switch_max: Math.max(...kf),
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model ?? 'unknown cpu'}`,
      date: new Date().toISOString(),
    };
    console.log(JSON.stringify(summary));
  } catch (error) {
    console.error(log.slice(-20).join('\n'));
    throw error;
  } finally {
    await chromium.close();
    await server.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
