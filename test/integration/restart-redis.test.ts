import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { ConferenceView } from '../../server/protocol/control.ts';
import type { RunningServer } from '../../server/app/server.ts';
import { RedisStore } from '../../server/store/index.ts';
import { freePortBase, startTestServer, tokenOf } from '../helpers/server.ts';
import { startRedisServer, type RedisServer } from './store/redis-server.ts';
import { waitFor } from './media-fixture.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const COMMUNE = 'c-06010';
const DISTRICT = 'd-178';

type Reply = { ok: true; data: unknown } | { ok: false; error: { code: string } };

interface Display {
  socket: Socket;
  views: ConferenceView[];
  last(): ConferenceView;
  command(cmd: object): Promise<Reply>;
}

/** A control socket that reconnects by itself, as the apps' do. */
async function display(url: string, token: string): Promise<Display> {
  const socket = io(`${url}/control`, { auth: { token }, transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 500, forceNew: true });
  const d: Display = {
    socket,
    views: [],
    last: () => d.views[d.views.length - 1]!,
    command: (cmd) => socket.timeout(5000).emitWithAck('control:command', cmd) as Promise<Reply>,
  };
  socket.on('control:view', (v: ConferenceView) => d.views.push(v));
  await waitFor('first view', () => d.views.length > 0, 10_000);
  return d;
}

/** The real server as its own process (`node --import tsx server/main.ts`), as an operator runs it. */
async function spawnServer(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  await waitFor(
    'server process healthy',
    async () => {
      if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${stderr}`);
      const res = await fetch(`http://127.0.0.1:${env.PORT}/healthz`).catch(() => null);
      return res?.ok ?? false;
    },
    30_000,
  );
  return child;
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('durable state on a real redis-server', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  const displays: Display[] = [];

  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const d of displays) d.socket.close();
    await redis?.stop();
  });

  it('the server process is killed and restarted: the same queue, holder and deadline, and the displays reconnect by themselves', async () => {
    const conferenceId = `restart-${Date.now()}`;
    const [http, rtc, pipes] = [await freePortBase(1), await freePortBase(2), await freePortBase(1)];
    const env = (webrtc: number) => ({
      PORT: String(http),
      DIEMCAU_LISTEN_IP: '127.0.0.1',
      DIEMCAU_WEBRTC_PORT: String(webrtc),
      DIEMCAU_RTC_MIN_PORT: String(Math.min(pipes, 64000)),
      DIEMCAU_RTC_MAX_PORT: String(Math.min(pipes, 64000) + 500),
      DIEMCAU_WORKERS: '1',
      DIEMCAU_LOG_LEVEL: 'warn',
      REDIS_URL: redis.url,
      DIEMCAU_CONFERENCE_ID: conferenceId,
    });
    let child: ChildProcess | undefined = await spawnServer(env(rtc));
    const store = await RedisStore.create({ url: redis.url });
    try {
      const tokens = await store.listTokens(conferenceId);
      const tokenFor = (grant: string) => tokens.find((t) => t.grant === grant)!.token;
      const url = `http://127.0.0.1:${http}`;
      const chair = await display(url, tokenFor('chair'));
      const commune = await display(url, tokenFor(`operator:${COMMUNE}`));
      const district = await display(url, tokenFor(`operator:${DISTRICT}`));
      displays.push(chair, commune, district);
      expect((await chair.command({ type: 'start_meeting' })).ok).to.equal(true);
      expect((await commune.command({ type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch' })).ok).to.equal(true);
      expect((await district.command({ type: 'request_floor', bridgeId: DISTRICT, speakerName: 'Lê Văn Nam', speakerTitle: 'Chủ tịch' })).ok).to.equal(true);
      expect((await chair.command({ type: 'grant_next' })).ok).to.equal(true);
      const before = await waitFor('holder and one waiting', () => {
        const v = chair.last();
        return v.floor && v.queue.length === 1 ? v : undefined;
      });

      await kill(child);
      await waitFor('displays see the server gone', () => !chair.socket.connected && !commune.socket.connected);
      const seen = chair.views.length;
      // A new process on the same redis (the old worker's WebRTC port may still be closing: take another).
      child = await spawnServer(env(rtc + 1));
      await waitFor('displays reconnected by themselves', () => chair.socket.connected && commune.socket.connected && district.socket.connected, 20_000);
      const after = await waitFor('a fresh view', () => (chair.views.length > seen ? chair.last() : undefined), 10_000);
      expect(after.status).to.equal('running');
      expect(after.floor!.bridgeId).to.equal(before.floor!.bridgeId);
      expect(after.floor!.requestId).to.equal(before.floor!.requestId);
      expect(after.floor!.timer.deadline, 'the same deadline, to the millisecond').to.equal(before.floor!.timer.deadline);
      expect(after.queue.map((q) => q.requestId)).to.deep.equal(before.queue.map((q) => q.requestId));
      // And the conference goes on from there.
      expect((await chair.command({ type: 'revoke_floor' })).ok).to.equal(true);
      await waitFor('revoked after the restart', () => commune.last().floor === null);
    } finally {
      await kill(child);
      await store.close();
    }
  });

  describe('two server instances on one redis serve one conference', () => {
    let a: RunningServer;
    let b: RunningServer;
    before(async () => {
      const conferenceId = `two-${Date.now()}`;
      a = await startTestServer(1, { redisUrl: redis.url, conferenceId });
      b = await startTestServer(1, { redisUrl: redis.url, conferenceId });
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    it('both issue the same invite links', async () => {
      expect(await tokenOf(a, 'chair')).to.equal(await tokenOf(b, 'chair'));
      expect(await tokenOf(a, COMMUNE)).to.equal(await tokenOf(b, COMMUNE));
    });

    it('a command on one is seen by the displays of the other, and concurrent grants on both give one holder', async () => {
      const chairA = await display(a.url, await tokenOf(a, 'chair'));
      const chairB = await display(b.url, await tokenOf(b, 'chair'));
      const communeB = await display(b.url, await tokenOf(b, COMMUNE));
      const districtA = await display(a.url, await tokenOf(a, DISTRICT));
      displays.push(chairA, chairB, communeB, districtA);
      expect((await chairA.command({ type: 'start_meeting' })).ok).to.equal(true);
      await waitFor('B sees the meeting started', () => communeB.last().status === 'running');
      // Presence on B is seen on A.
      await waitFor('A sees the commune (on B) online', () => chairA.last().presence![COMMUNE]!.online);
      expect((await communeB.command({ type: 'request_floor', bridgeId: COMMUNE, speakerName: 'A', speakerTitle: 'A' })).ok).to.equal(true);
      expect((await districtA.command({ type: 'request_floor', bridgeId: DISTRICT, speakerName: 'B', speakerTitle: 'B' })).ok).to.equal(true);
      const queue = await waitFor('both requests queued, seen on A', () => (chairA.last().queue.length === 2 ? chairA.last().queue : undefined));
      const [r1, r2] = await Promise.all([
        chairA.command({ type: 'grant_floor', requestId: queue[0]!.requestId }),
        chairB.command({ type: 'grant_floor', requestId: queue[1]!.requestId }),
      ]);
      expect(r1.ok || r2.ok).to.equal(true);
      await waitFor('both instances agree', () => {
        const fa = chairA.last().floor;
        const fb = chairB.last().floor;
        return fa && fb && fa.bridgeId === fb.bridgeId && fa.requestId === fb.requestId;
      });
      await waitFor('runners in step', () => a.host.runner.state.seq === b.host.runner.state.seq);
      expect(a.host.runner.state.floor?.requestId).to.equal(b.host.runner.state.floor?.requestId);
      // Never granted twice at once: the holder is not also in the queue, and the log shows every grant ended before the next.
      const holder = a.host.runner.state.floor!;
      expect(a.host.runner.state.queue.some((q) => q.id === holder.requestId)).to.equal(false);
      const granted = (await a.host.runner.readLog(0)).filter((e) => e.type === 'floor_granted').length;
      const ended = (await a.host.runner.readLog(0)).filter((e) => e.type === 'floor_ended').length;
      expect(granted - ended, 'one open grant').to.equal(1);
      // Each instance's media follows the floor.
      await waitFor('media on A and B follow', () => a.media.program === holder.bridgeId && b.media.program === holder.bridgeId);
    });
  });
});
