// The archive recording is conference state: an orderly restart on redis finishes the first file
// and goes on in a second one, a re-encoder that dies cuts it into a third; a recorder killed outright leaves a playable .part.mkv. Real
// mediasoup, redis and ffmpeg; no halls (the programme is the slate and silence).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startServer, type RunningServer } from '../../server/app/server.ts';
import type { RecordingIndex } from '../../server/app/feed/FeedDesk.ts';
import { freePortBase } from '../helpers/server.ts';
import { startRedisServer, type RedisServer } from './store/redis-server.ts';
import { waitFor } from './media-fixture.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Decodes a file to the end (a killed recorder's file may only end in the middle of its last cluster); its duration. */
async function plays(file: string, truncated = false): Promise<number> {
  const decode = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-']);
  const errors = decode.stderr.split('\n').filter((l) => l.trim() && !(truncated && /File ended prematurely/.test(l)));
  expect(errors, `decode errors in ${file}`).to.deep.equal([]);
  // From the packets: a file whose writer was killed has no duration in its header.
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file], { maxBuffer: 16 * 1024 * 1024 });
  const times = stdout.split('\n').filter(Boolean).map(Number);
  return times.length ? times[times.length - 1]! - times[0]! : 0;
}

describe('programme recording across a restart (redis, mediasoup, ffmpeg)', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let dir: string;
  const servers: RunningServer[] = [];

  const start = async (): Promise<RunningServer> => {
    const webRtcBasePort = await freePortBase(1);
    const rtcMinPort = Math.min(await freePortBase(1), 64000);
    const config = loadConfig({}, {
      listenIp: '127.0.0.1', httpPort: 0, workers: 1, webRtcBasePort, rtcMinPort, rtcMaxPort: rtcMinPort + 999, logLevel: 'error',
      redisUrl: redis.url, conferenceId: 'programme-restart', recordingsDir: path.join(dir, 'recordings'), feedPreset: 'ultrafast',
    });
    const server = await startServer(config, defaultPlan());
    servers.push(server);
    return server;
  };

  before(async () => {
    redis = await startRedisServer();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-programme-restart-'));
  });

  after(async () => {
    for (const s of servers) await s.close();
    await redis?.stop();
    if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a recording goes on in a new file after a restart and after the re-encoder dies; a killed recorder leaves a playable file', async () => {
    const a = await start();
    expect((await a.conference.execute({ role: 'secretary' }, { type: 'recording_start' })).ok).to.equal(true);
    await waitFor('recording on the first server', () => a.conference.feed.active !== undefined, 20_000);
    const first = a.conference.feed.active!.file;
    await sleep(8000);
    // An orderly restart: the first file is finished with its chapters; the state still records.
    await a.close();
    expect(fs.existsSync(first)).to.equal(true);
    expect(await plays(first)).to.be.greaterThan(3);

    const b = await start();
    expect(b.conference.view({ role: 'chair' }).recording).to.not.equal(null);
    await waitFor('recording resumed on the second server', () => b.conference.feed.active !== undefined, 20_000);
    const second = b.conference.feed.active!.file;
    expect(path.basename(second)).to.match(/-2\.mkv$/);
    await sleep(8000);
    // The recorder dies outright: what it wrote so far plays.
    const part = second.replace(/\.mkv$/, '.part.mkv');
    process.kill(b.conference.feed.active!.pid!, 'SIGKILL');
    await sleep(300);
    expect(await plays(part, true)).to.be.greaterThan(3);

    // The re-encoder dies: the file is finished at the break and the recording goes on in a third.
    const cut = new Promise<RecordingIndex>((resolve) => b.conference.feed.once('recorded', resolve));
    const output = await b.conference.feed.output();
    process.kill(output.pids.encoder!, 'SIGKILL');
    expect((await cut).file).to.equal(path.basename(second));
    expect(await plays(second)).to.be.greaterThan(3);
    await waitFor('recording goes on in a third file', () => b.conference.feed.active !== undefined && b.conference.feed.active.file !== second, 20_000);
    const third = b.conference.feed.active!.file;
    expect(path.basename(third)).to.match(/-3\.mkv$/);
    await sleep(8000);

    const done = new Promise<RecordingIndex>((resolve) => b.conference.feed.once('recorded', resolve));
    expect((await b.conference.execute({ role: 'chair' }, { type: 'recording_stop' })).ok).to.equal(true);
    const index = await done;
    expect(index.file).to.equal(path.basename(third));
    expect(await plays(third)).to.be.greaterThan(3);
    const log = await b.conference.runner.readLog(0);
    expect(log.filter((e) => e.type === 'recording_started')).to.have.length(1);
    expect(log.filter((e) => e.type === 'recording_stopped')).to.have.length(1);
    expect(b.conference.feed.list().map((r) => r.file).sort()).to.deep.equal([first, second, third].map((f) => path.basename(f)).sort());
  });
});
