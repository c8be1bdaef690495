import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Server as SocketServer } from 'socket.io';
import pino from 'pino';
import { WorkerPool, MediaSession } from '../../sfu/index.ts';
import type { Config } from '../../config/index.ts';
import { resolveAnnouncedIp } from '../../config/index.ts';
import { rtpEndpointOf, type ConferencePlan } from '../protocol/plan.ts';
import { attachMediaSignaling } from '../transport/media-socket.ts';
import { attachControlSignaling } from '../transport/control-socket.ts';
import { createRestRouter } from '../transport/rest.ts';
import { metricsHandler } from '../transport/metrics.ts';
import { cutOffToken } from '../transport/socket-requests.ts';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { createStore, type ConferenceStore } from '../store/index.ts';
import { ConferenceHost } from './ConferenceHost.ts';
import { PlanLoadError } from './errors.ts';
import { ProgrammeDesk } from './programme/ProgrammeDesk.ts';
import { parsePressFeed } from './programme/ProgrammeOutput.ts';
import { createRecordingsRouter, pressSdpHandler } from '../transport/recordings-rest.ts';
import { PaperDesk } from './papers/PaperDesk.ts';
import type { PdfCheckLimits } from './papers/PdfChecker.ts';
import { createPapersRouter } from '../transport/papers-rest.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where the built browser apps are served from. */
export const PUBLIC_DIR = path.resolve(here, '../../client/public');

/** A running diemcau server: HTTP, socket.io, the worker pool, the conference and its media. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly pool: WorkerPool;
  readonly media: MediaSession;
  readonly host: ConferenceHost;
  /** The programme output (press feed) and the archive recordings. */
  readonly programme: ProgrammeDesk;
  /** The papers (tham luận): uploads, checks, files. */
  readonly papers: PaperDesk;
  readonly store: ConferenceStore;
  readonly plan: ConferencePlan;
  /** Replaces the conference with another plan (only before the meeting starts). */
  loadPlan(plan: ConferencePlan): Promise<void>;
  /** Closes sockets, HTTP, the conference, the session, the store and the workers; idempotent. */
  close(): Promise<void>;
}

/** The province bridge: where the chair sits. */
export function chairBridgeOf(plan: ConferencePlan): string {
  const province = plan.bridges.find((b) => b.tier === 'province');
  if (!province) throw new Error('plan has no province bridge');
  return province.id;
}

/** Deployment details beyond the configuration. */
export interface ServerExtras {
  /** Halls that reach the SFU through another UDP address (a NAT or relay in front of it), by bridge. */
  routes?: ReadonlyMap<string, { ip: string; port: number }>;
  /** How often every link is sampled for the technicians (2 s). */
  healthIntervalMs?: number;
  /** After a (re)start, how long halls marked online have to reconnect (20 s). */
  presenceGraceMs?: number;
  /** Limits of the paper checker (tests lower the time limit). */
  paperCheckLimits?: Partial<PdfCheckLimits>;
}

/** Starts the server for one conference plan. */
export async function startServer(config: Config, plan: ConferencePlan, extras: ServerExtras = {}): Promise<RunningServer> {
  const logger = pino({ level: config.logLevel, base: undefined });
  const announcedIp = resolveAnnouncedIp(config);
  const cleanups: (() => unknown)[] = [];
  const undo = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const pool = await WorkerPool.create({
      numWorkers: config.workers,
      listenIp: config.listenIp,
      announcedIp,
      webRtcBasePort: config.webRtcBasePort,
      rtcMinPort: config.rtcMinPort,
      rtcMaxPort: config.rtcMaxPort,
    });
    cleanups.push(() => pool.close());
    pool.on('workerdied', ({ index, pid, error }) => logger.error({ index, pid, err: error.message }, 'mediasoup worker died'));
    pool.on('workerreplaced', ({ index, pid }) => logger.warn({ index, pid }, 'mediasoup worker replaced'));
    pool.on('workerfailed', ({ index, error }) => logger.error({ index, err: error.message }, 'worker replacement failed; retrying'));

    const store = await createStore({ redisUrl: config.redisUrl, onError: (e) => logger.error({ err: e.message }, 'store error') });
    cleanups.push(() => store.close());

    /** Media session and conference for a plan; both closed again if the second fails. */
    const openConference = async (forPlan: ConferencePlan): Promise<{ media: MediaSession; host: ConferenceHost; desk: ProgrammeDesk; papers: PaperDesk }> => {
      const media = await MediaSession.create(pool, {
        conferenceId: config.conferenceId,
        chairBridgeId: chairBridgeOf(forPlan),
        bridgeIds: forPlan.bridges.map((b) => b.id),
        offerH264: forPlan.bridges.some((b) => rtpEndpointOf(b)?.videoCodec === 'H264'),
      });
      media.on('warning', (w) => logger.warn(w, 'media warning'));
      media.on('medialost', (e) => logger.error(e, 'bridges lost their media (worker died)'));
      media.on('mediarebuilt', (e) => logger.warn(e, 'media rebuilt on replaced worker'));
      try {
        const host = await ConferenceHost.create({ conferenceId: config.conferenceId, plan: forPlan, store, media, healthIntervalMs: extras.healthIntervalMs, presenceGraceMs: extras.presenceGraceMs, rtpListenInfo: { ...pool.listenInfo, portRange: { min: config.rtcMinPort, max: config.rtcMaxPort } } });
        host.on('problem', (message, error) => logger.warn({ err: String((error as Error)?.message ?? error) }, message));
        const desk = new ProgrammeDesk(host, {
          pressFeed: config.pressFeed ? parsePressFeed(config.pressFeed) : undefined,
          recordingsDir: config.recordingsDir,
          preset: config.programmePreset,
        });
        desk.on('problem', (message, error) => logger.warn({ err: error === undefined ? undefined : String((error as Error)?.message ?? error) }, message));
        const papers = new PaperDesk({ conferenceId: config.conferenceId, dataDir: config.dataDir, runner: host.runner, checkLimits: extras.paperCheckLimits });
        return { media, host, desk, papers };
      } catch (error) {
        media.close();
        throw error;
      }
    };
    let conference = await openConference(plan);
    cleanups.push(async () => {
      conference.papers.close();
      await conference.desk.close();
      await conference.host.close();
      conference.media.close();
    });

    const app = express();
    app.disable('x-powered-by');
    app.get('/healthz', (_req, res) => {
      res.json({ ok: true, store: store.kind, workers: pool.slots.map((s) => ({ index: s.index, pid: s.worker.pid, load: s.load })) });
    });
    const httpServer = http.createServer(app);
    let baseUrl = config.publicUrl ?? '';
    // With redis, broadcasts to rooms reach the sockets of every instance (the socket.io redis adapter).
    let adapter: ReturnType<typeof createAdapter> | undefined;
    if (config.redisUrl) {
      const pub = createClient({ url: config.redisUrl });
      const sub = pub.duplicate();
      for (const c of [pub, sub]) c.on('error', (e: Error) => logger.warn({ err: e.message }, 'socket.io adapter redis error'));
      await Promise.all([pub.connect(), sub.connect()]);
      cleanups.push(() => Promise.allSettled([pub.quit(), sub.quit()]));
      adapter = createAdapter(pub, sub);
    }
    const io = new SocketServer(httpServer, { serveClient: false, pingInterval: 10000, pingTimeout: 8000, ...(adapter ? { adapter } : {}) });
    cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
    cleanups.push(() => io.disconnectSockets(true));
    const rebindMedia = attachMediaSignaling(io.of('/media'), () => conference.media, {
      authenticate: (token) => conference.host.authenticate(token),
      routes: extras.routes,
      isDeviceBridge: (bridgeId) => conference.host.rtpHalls.has(bridgeId),
      log: (level, msg, data) => logger[level](data ?? {}, msg),
    });
    const control = attachControlSignaling(io.of('/control'), () => conference.host);
    cleanups.push(control.close);
    // Shutting down is not every hall dropping off: roll-call stops first.
    cleanups.push(() => conference.host.quiesce());
    // A revoked or re-issued link cuts off the sockets opened with it, at once.
    const cutOff = (token: string): void => {
      cutOffToken(io.of('/media'), token);
      cutOffToken(io.of('/control'), token);
    };
    const watchTokens = (): void => void conference.host.tokens.on('revoked', cutOff);
    watchTokens();

    /**
     * Replaces the conference with another plan before the meeting starts. The invite links of
     * the roles and of the bridges that remain stay valid; every display reconnects to the new one.
     */
    let replacing = false;
    const loadPlan = async (next: ConferencePlan): Promise<void> => {
      if (replacing) throw new PlanLoadError('invalid_state', 'another plan is being loaded');
      if (conference.host.runner.state.status !== 'waiting') throw new PlanLoadError('invalid_state', 'the meeting has started: a new plan can only be loaded before it');
      replacing = true;
      try {
        const kept = new Set(['chair', 'secretary', 'technician', 'viewer', ...next.bridges.map((b) => `operator:${b.id}`)]);
        const tokens = (await store.listTokens(config.conferenceId)).filter((t) => kept.has(t.grant));
        conference.papers.close();
        await conference.desk.close();
        await conference.host.close();
        conference.media.close();
        await store.drop(config.conferenceId);
        if (tokens.length) await store.issueTokens(config.conferenceId, tokens, 'replace');
        conference = await openConference(next);
        watchTokens();
        rebindMedia();
        control.rebind();
        io.of('/media').disconnectSockets(false);
        io.of('/control').disconnectSockets(false);
        logger.warn({ title: next.title, bridges: next.bridges.length }, 'conference plan replaced');
      } finally {
        replacing = false;
      }
    };
    app.use('/api/recordings', createRecordingsRouter(() => conference));
    app.use('/api/papers', createPapersRouter(() => conference));
    app.get('/api/press.sdp', pressSdpHandler(config.pressFeed ? parsePressFeed(config.pressFeed) : undefined, () => conference));
    app.use('/api', createRestRouter(() => conference.host, () => baseUrl, loadPlan));
    app.get('/metrics', metricsHandler(() => conference.host, pool));
    app.use(express.static(PUBLIC_DIR, { extensions: ['html'] }));

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.httpPort, config.listenIp, () => resolve());
    });
    const address = httpServer.address();
    const port = typeof address === 'object' && address ? address.port : config.httpPort;
    const hostName = config.listenIp === '0.0.0.0' || config.listenIp === '::' ? '127.0.0.1' : config.listenIp;
    const url = `http://${hostName}:${port}`;
    baseUrl ||= url;
    logger.info({ port, workers: pool.size, announcedIp, store: store.kind }, 'diemcau listening');

    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      pool,
      get media() {
        return conference.media;
      },
      get host() {
        return conference.host;
      },
      get programme() {
        return conference.desk;
      },
      get papers() {
        return conference.papers;
      },
      get plan() {
        return conference.host.plan;
      },
      store,
      loadPlan,
      close() {
        closing ??= undo();
        return closing;
      },
    };
  } catch (error) {
    await undo();
    throw error;
  }
}
