// Readiness: a process's port listens long before it serves (the conference opens, the sockets
// attach, the API is mounted). A load balancer's health check or a script waiting for /healthz
// (test/helpers/server-process.ts, README "Deploying on several hosts") must not take it as ready
// before its API answers: /healthz answers 503 "starting" until then, 200 after. Real servers
// (mediasoup workers; redis-server for the media node), in this process; the start is held at a
// point after the port listens by a test hook (ServerExtras/MediaNodeExtras `startHold`).
import { expect } from 'chai';
import { io } from 'socket.io-client';
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import type { RunningServer } from '../../server/app/server.ts';
import { startMediaNode, type RunningMediaNode } from '../../server/app/media-node/start.ts';
import { freePortBase, startTestServer } from '../helpers/server.ts';
import { startRedisServer, type RedisServer } from './store/redis-server.ts';

/** A start held by the test at its `startHold` hook: the URL it listens on, and the release. */
function holdStart(): { hook: (l: { url: string }) => Promise<void>; listening: Promise<string>; release: () => void } {
  let listened!: (url: string) => void;
  let release!: () => void;
  const listening = new Promise<string>((r) => (listened = r));
  const held = new Promise<void>((r) => (release = r));
  return {
    hook: async ({ url }) => {
      listened(url);
      await held;
    },
    listening,
    release,
  };
}

async function answer(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the assertion message
  }
  return { status: res.status, body };
}

/** What a /media socket is told at connect (with no valid token): the namespace's refusal, or socket.io's 'Invalid namespace'. */
function mediaConnect(url: string): Promise<string> {
  const socket = io(`${url}/media`, { auth: { token: 'not-a-token' }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise<string>((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (e: Error) => resolve(e.message));
  }).finally(() => socket.close());
}

describe('readiness: /healthz answers 503 until the process serves (start held after the port listens by a test hook)', function () {
  this.timeout(60_000);

  describe('a server (the both role, as npm start runs it)', () => {
    let server: RunningServer | undefined;
    after(async () => {
      await server?.close();
    });

    it('start held after the port listens (test hook): /healthz is 503 "starting" while /api/plan does not answer, 200 once it does; never 200 before', async () => {
      const hold = holdStart();
      const starting = startTestServer(1, {}, { startHold: hold.hook });
      starting.catch(() => undefined);
      const url = await hold.listening;
      // A poller as a load balancer's health check: whenever /healthz says 200, the API answers.
      const seen: { healthz: number; api: number }[] = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const healthz = (await fetch(`${url}/healthz`)).status;
          const api = healthz === 200 ? (await fetch(`${url}/api/plan`)).status : -1;
          seen.push({ healthz, api });
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const during = await answer(`${url}/healthz`);
      const apiDuring = await answer(`${url}/api/plan`);
      expect(apiDuring.status, `/api/plan while the start is held: ${JSON.stringify(apiDuring)}`).to.equal(404);
      expect(during, '/healthz while the start is held').to.deep.equal({ status: 503, body: { ok: false, status: 'starting', role: 'both' } });
      hold.release();
      server = await starting;
      const api = await answer(`${url}/api/plan`);
      expect(api.status, `/api/plan once started: ${JSON.stringify(api).slice(0, 300)}`).to.equal(200);
      const after = await answer(`${url}/healthz`);
      expect(after.status, JSON.stringify(after)).to.equal(200);
      expect(after.body, '/healthz once started').to.deep.include({ ok: true, role: 'both', store: 'memory' });
      polling = false;
      await poller;
      const early = seen.filter((s) => s.healthz === 200 && s.api !== 200);
      expect(early, `/healthz said 200 while /api/plan did not answer (of ${seen.length} polls)`).to.deep.equal([]);
      expect(seen.some((s) => s.healthz === 503), `the poller saw the 503 (${seen.length} polls)`).to.equal(true);
    });
  });

  describe('a media node (redis)', () => {
    let redis: RedisServer;
    let node: RunningMediaNode | undefined;
    before(async () => {
      redis = await startRedisServer();
    });
    after(async () => {
      await node?.close();
      await redis?.stop();
    });

    it('start held after the port listens (test hook): /healthz is 503 "starting" while /media is not there, 200 once /media answers', async () => {
      const hold = holdStart();
      const webRtcBasePort = await freePortBase(1);
      const rtc = Math.min(await freePortBase(1), 64000);
      const starting = startMediaNode(
        loadConfig({}, { role: 'media', redisUrl: redis.url, conferenceId: 'readiness', nodeSecret: 'a-test-secret-of-at-least-32-characters!', nodeId: 'node-ready', listenIp: '127.0.0.1', httpPort: 0, workers: 1, webRtcBasePort, rtcMinPort: rtc, rtcMaxPort: rtc + 499, logLevel: 'error' }),
        defaultPlan(),
        { startHold: hold.hook },
      );
      starting.catch(() => undefined);
      const url = await hold.listening;
      const during = await answer(`${url}/healthz`);
      const mediaDuring = await mediaConnect(url);
      expect(mediaDuring, '/media while the start is held').to.equal('Invalid namespace');
      expect(during, '/healthz while the start is held').to.deep.equal({ status: 503, body: { ok: false, status: 'starting', role: 'media' } });
      hold.release();
      node = await starting;
      const mediaAfter = await mediaConnect(url);
      expect(mediaAfter, '/media once started (refused for its token, by the namespace)').to.not.equal('Invalid namespace');
      const after = await answer(`${url}/healthz`);
      expect(after.status, JSON.stringify(after)).to.equal(200);
      expect(after.body, '/healthz once started').to.deep.include({ ok: true, role: 'media', nodeId: 'node-ready' });
    });
  });
});
