/**
 * npm run bench:programme — the CPU the programme output costs: the press feed (relay and
 * re-encoder) and the archive recording, with Chromium halls speaking.
 *
 * Two Chromium halls join (the province, where the chair sits, and a district that is given the
 * floor), so the programme carries a speaker's video and audio and the chair's audio. Then:
 *  1. feed: the press feed alone runs for --seconds; the re-encoder's CPU is read from
 *     /proc/<pid>/stat (utime + stime) over wall time, the relay's from its own busy time on
 *     the server's event loop;
 *  2. feed + recording: the same while the secretary records; the recorder's CPU likewise.
 * CPU is in % of one core (100 = one core busy). Prints one JSON object as its last line.
 *
 * Options: --seconds N (per phase, default 30) --preset P (x264 preset, default veryfast)
 *          --switch-every N (seconds between speaker switches, 0 = none; default 10)
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startServer } from '../../server/app/server.ts';
import { cpuSeconds, freeUdpPorts } from '../../server/app/feed/ffmpeg.ts';
import { freePortBase, inviteUrl } from '../../test/helpers/server.ts';
import { launchChromium, waitFor } from '../../test/helpers/chromium.ts';
import { waitLive } from '../../test/helpers/hall-page.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const seconds = Number(arg('seconds', '30'));
const preset = arg('preset', 'veryfast') as 'veryfast';
const switchEvery = Number(arg('switch-every', '10'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-bench-programme-'));
  // The press player's side: a socket that counts what arrives.
  const pressPort = await freeUdpPorts(2);
  const press = dgram.createSocket('udp4');
  let pressBytes = 0;
  press.on('message', (m) => (pressBytes += m.length));
  await new Promise<void>((r) => press.bind(pressPort, '127.0.0.1', r));
  const webRtcBasePort = await freePortBase(2);
  const rtcMinPort = Math.min(await freePortBase(1), 64000);
  const config = loadConfig({}, {
    listenIp: '127.0.0.1', httpPort: 0, workers: 2, webRtcBasePort, rtcMinPort, rtcMaxPort: rtcMinPort + 999, logLevel: 'warn',
    pressFeed: `rtp://127.0.0.1:${pressPort}`, recordingsDir: path.join(dir, 'recordings'), feedPreset: preset, store: 'memory',
  });
  const server = await startServer(config, defaultPlan());
  const chromium = await launchChromium();
  try {
    const halls = ['p-20', 'd-178'];
    for (const bridgeId of halls) {
      const page = await chromium.browser.newPage();
      await page.setViewport({ width: 640, height: 360 });
      await page.goto(await inviteUrl(server, bridgeId));
      await waitLive(page, bridgeId);
    }
    const output = await server.conference.feed.output();
    const host = server.conference;
    await host.execute({ role: 'chair' }, { type: 'start_meeting' });
    const speak = async (bridgeId: string): Promise<void> => {
      if (bridgeId === 'p-20') {
        await host.execute({ role: 'chair' }, { type: 'revoke_floor' });
        return;
      }
      await host.execute({ role: 'secretary' }, { type: 'request_floor', bridgeId, speakerName: 'Nguyễn Văn Hùng', speakerTitle: 'Chủ tịch HĐND thành phố' });
      const id = host.runner.state.queue.find((q) => q.bridgeId === bridgeId)!.id;
      await host.execute({ role: 'chair' }, { type: 'grant_floor', requestId: id });
    };
    await speak('d-178');
    await waitFor('the feed shows the district', async () => output.showing === 'speaker' && host.media.onAir === 'd-178', 20_000);
    await sleep(3000); // warm-up

    /** Runs one phase: CPU of the given processes and of the relay over `seconds`, switching speakers meanwhile. */
    const phase = async (pids: Record<string, number | undefined>) => {
      const t0 = performance.now();
      const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) ?? 0]));
      const relay0 = output.relayCounters!.busyMs;
      const server0 = process.cpuUsage();
      const bytes0 = pressBytes;
      let speaker = 'd-178';
      const until = Date.now() + seconds * 1000;
      while (Date.now() < until) {
        const wait = switchEvery > 0 ? Math.min(switchEvery * 1000, until - Date.now()) : until - Date.now();
        await sleep(wait);
        if (switchEvery > 0 && Date.now() < until - 1000) {
          speaker = speaker === 'd-178' ? 'p-20' : 'd-178';
          await speak(speaker);
        }
      }
      const wallS = (performance.now() - t0) / 1000;
      const pct = (s: number) => Math.round((s / wallS) * 1000) / 10;
      const out: Record<string, number> = {};
      for (const [k, pid] of Object.entries(pids)) out[k] = pct((cpuSeconds(pid) ?? 0) - cpu0[k]!);
      out.relay = pct((output.relayCounters!.busyMs - relay0) / 1000);
      const srv = process.cpuUsage(server0);
      out.server_process = pct((srv.user + srv.system) / 1e6);
      out.press_kbps = Math.round(((pressBytes - bytes0) * 8) / wallS / 1000);
      return out;
    };

    const feed = await phase({ encoder: output.pids.encoder });
    console.log('feed only', JSON.stringify(feed));
    await host.execute({ role: 'secretary' }, { type: 'recording_start' });
    await waitFor('the recorder runs', async () => server.conference.feed.active !== undefined);
    const recorderPid = server.conference.feed.active!.pid;
    const both = await phase({ encoder: output.pids.encoder, recorder: recorderPid });
    console.log('feed + recording', JSON.stringify(both));
    await host.execute({ role: 'secretary' }, { type: 'recording_stop' });
    const recorded = await new Promise<{ file: string; chapters: unknown[] }>((resolve) => server.conference.feed.once('recorded', resolve));
    const file = path.join(dir, 'recordings', recorded.file);
    const summary = {
      feed_cpu_pct: feed.encoder,
      record_cpu_pct: both.recorder,
      relay_cpu_pct: Math.max(feed.relay!, both.relay!),
      feed_with_recording_cpu_pct: both.encoder,
      server_process_cpu_pct: both.server_process,
      press_kbps: feed.press_kbps,
      resolution: `${output.width}x${output.height}`,
      fps: output.fps,
      preset,
      codec: 'h264+aac in mpeg-ts',
      seconds_per_phase: seconds,
      switch_every_s: switchEvery,
      recording_mb: Math.round((fs.statSync(file).size / 2 ** 20) * 10) / 10,
      halls: 'Chromium p-20 and d-178 (fake camera and microphone) on the same machine',
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model ?? 'unknown cpu'}`,
      date: new Date().toISOString(),
    };
    console.log(JSON.stringify(summary));
  } finally {
    await chromium.close();
    await server.close();
    press.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
