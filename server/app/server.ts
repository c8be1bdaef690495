import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Server as SocketServer } from 'socket.io';
import pino from 'pino';
import { WorkerPool, type MediaSession } from '../../sfu/index.ts';
import type { Config } from '../../config/index.ts';
import { resolveAnnouncedIp } from '../../config/index.ts';
import { systemClock, type Clock } from '../core/conference/index.ts';
import type { ConferencePlan } from '../protocol/plan.ts';
import { attachMediaSignaling } from '../transport/media-socket.ts';
import { attachControlSignaling } from '../transport/control-socket.ts';
import { createApi, createMetricsRoute, type ApiOptions } from '../transport/api.ts';
import { ConnectionCap, httpServerOptions, SOCKET_CONNECT_TIMEOUT_MS, SOCKET_MAX_MESSAGE_BYTES } from '../transport/connections.ts';
import { jsonErrors, notFound } from '../transport/http-errors.ts';
import { metricsHandler } from '../transport/metrics.ts';
import { listRoutes, type RouteInfo } from '../transport/routes.ts';
import { PlanChecker } from './plan-check/PlanChecker.ts';
import { conferenceGate, cutOffToken, recheckTokens } from '../transport/socket-requests.ts';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { createStores, type Stores } from '../store/index.ts';
import { Conference } from './Conference.ts';
import { PlanLoadError } from './errors.ts';
import { parsePressFeed } from './feed/FeedOutput.ts';
import { startTurn, type TurnService } from './turn/index.ts';
import type { PdfCheckLimits } from './papers/PdfChecker.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where the built browser apps are served from. */
export const PUBLIC_DIR = path.resolve(here, '../../client/public');

/** A running diemcau server: HTTP, socket.io, the worker pool, the stores and the conference. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly pool: WorkerPool;
  /** The conference at work (replaced by loadPlan). */
  readonly conference: Conference;
  /** The conference's media session (conference.media). */
  readonly media: MediaSession;
  readonly stores: Stores;
  readonly plan: ConferencePlan;
  /** TURN for halls behind firewalls (URLs, the embedded coturn), or null when off. */
  readonly turn: TurnService | null;
  /** Every HTTP route the server answers (method and path pattern), read from its routers. */
  readonly routes: readonly RouteInfo[];
  /** Replaces the conference with another plan (only before the meeting starts). */
  loadPlan(plan: ConferencePlan): Promise<void>;
  /** Closes sockets, HTTP, the conference, the session, the store and the workers; idempotent. */
  close(): Promise<void>;
}

/** Deployment details beyond the configuration. */
export interface ServerExtras {
  /** Halls that reach the SFU through another UDP address (a NAT or relay in front of it), by bridge. */
  routes?: ReadonlyMap<string, { ip: string; port: number }>;
  /** How often every link is sampled for the technicians (2 s). */
  healthIntervalMs?: number;
  /** After a (re)start, how long halls marked online have to reconnect (20 s). */
  presenceGraceMs?: number;
  /** The conference's time (the system clock by default). */
  clock?: Clock;
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

    const stores = await createStores({ redisUrl: config.redisUrl, kind: config.store, dataDir: config.dataDir, onError: (e) => logger.error({ err: e.message }, 'store error'), clock: extras.clock });
    cleanups.push(() => stores.close());

    /** The conference of a plan, with every part it owns (media, runner, tokens, health, halls, feed). */
    const openConference = (forPlan: ConferencePlan): Promise<Conference> =>
      Conference.create({
        conferenceId: config.conferenceId,
        plan: forPlan,
        pool,
        stores,
        log: logger,
        clock: extras.clock,
        healthIntervalMs: extras.healthIntervalMs,
        presenceGraceMs: extras.presenceGraceMs,
        rtpListenInfo: { ...pool.listenInfo, portRange: { min: config.rtcMinPort, max: config.rtcMaxPort } },
        feed: { pressFeed: config.pressFeed ? parsePressFeed(config.pressFeed) : undefined, recordingsDir: config.recordingsDir, preset: config.feedPreset },
        papers: { dataDir: config.dataDir, checkLimits: extras.paperCheckLimits },
      });
    let conference = await openConference(plan);
    cleanups.push(() => conference.close());

    const turn = await startTurn(config, announcedIp, (token) => conference.authenticate(token), (line) => logger.debug({ coturn: line }, 'coturn'));
    if (turn) {
      cleanups.push(() => turn.close());
      logger.info({ urls: turn.urls, coturnPid: turn.coturn?.pid }, 'TURN for halls behind firewalls');
    }

    const app = express();
    app.disable('x-powered-by');
    app.get('/healthz', (_req, res) => {
      res.json({ ok: true, store: stores.kind, workers: pool.slots.map((s) => ({ index: s.index, pid: s.worker.pid, load: s.load })) });
    });
    // Connections that say nothing are closed, and one address holds only so many (connections.ts).
    const httpServer = http.createServer(httpServerOptions(), app);
    const trustedProxies = new Set(config.trustedProxies);
    ConnectionCap.attach(httpServer, {
      maxPerAddress: config.maxConnectionsPerAddress,
      exempt: trustedProxies,
      refused: (address, count) => logger.warn({ address, count, max: config.maxConnectionsPerAddress }, 'connections refused: too many from one address'),
    });
    const plans = new PlanChecker({ clock: extras.clock ?? systemClock });
    cleanups.push(() => plans.close());
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
    const io = new SocketServer(httpServer, {
      serveClient: false,
      pingInterval: 10000,
      pingTimeout: 8000,
      connectTimeout: SOCKET_CONNECT_TIMEOUT_MS,
      maxHttpBufferSize: SOCKET_MAX_MESSAGE_BYTES,
      ...(adapter ? { adapter } : {}),
    });
    cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
    cleanups.push(() => io.disconnectSockets(true));
    const rebindMedia = attachMediaSignaling(io.of('/media'), () => conference.media, {
      gate: conferenceGate(() => conference),
      routes: extras.routes,
      iceConfig: turn ? (token) => turn.iceConfigFor(token) : undefined,
      isDeviceBridge: (bridgeId) => conference.rtpHalls.has(bridgeId),
      log: (level, msg, data) => logger[level](data ?? {}, msg),
    });
    const control = attachControlSignaling(io.of('/control'), () => conference);
    cleanups.push(control.close);
    // Shutting down is not every hall dropping off: roll-call stops first.
    cleanups.push(() => conference.quiesce());
    // A link revoked or re-issued on any server process cuts off the sockets opened with it here,
    // at once (the store announces it); when announcements may have been missed, every socket's
    // token is checked again.
    const cutOff = (token: string): void => {
      cutOffToken(io.of('/media'), token);
      cutOffToken(io.of('/control'), token);
    };
    const recheck = (): void => {
      const inForce = (token: string) => conference.tokens.inForce(token);
      recheckTokens(io.of('/media'), inForce);
      recheckTokens(io.of('/control'), inForce);
    };
    const watchTokens = (): void => {
      conference.tokens.on('revoked', cutOff);
      conference.tokens.on('resync', recheck);
    };
    watchTokens();

    /**
     * Replaces the conference with another plan before the meeting starts. The invite links of
     * the roles and of the bridges that remain stay valid; every display reconnects to the new one.
     */
    let replacing = false;
    const loadPlan = async (next: ConferencePlan): Promise<void> => {
      if (replacing) throw new PlanLoadError('invalid_state', 'another plan is being loaded');
      if (conference.runner.state.status !== 'waiting') throw new PlanLoadError('invalid_state', 'the meeting has started: a new plan can only be loaded before it');
      replacing = true;
      try {
        const kept = new Set(['chair', 'secretary', 'technician', 'viewer', ...next.bridges.map((b) => `operator:${b.id}`)]);
        const tokens = (await stores.tokens.listTokens(config.conferenceId)).filter((t) => kept.has(t.grant));
        await conference.close();
        await stores.drop(config.conferenceId);
        if (tokens.length) await stores.tokens.issueTokens(config.conferenceId, tokens, 'replace');
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
    const apiOptions: ApiOptions = {
      current: () => conference,
      baseUrl: () => baseUrl,
      loadPlan,
      plans,
      pressFeed: config.pressFeed ? parsePressFeed(config.pressFeed) : undefined,
      trustedProxies,
      log: logger,
    };
    app.use('/api', createApi(apiOptions));
    app.use('/metrics', createMetricsRoute(apiOptions, metricsHandler(() => conference, pool)));
    app.use(express.static(PUBLIC_DIR, { extensions: ['html'] }));
    // Whatever is left (a page that does not exist, a path that does not decode) answers in the same JSON.
    app.use(notFound());
    app.use(jsonErrors(logger));
    const routes = listRoutes((app as unknown as { router: { stack: unknown[] } }).router);

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.httpPort, config.listenIp, () => resolve());
    });
    const address = httpServer.address();
    const port = typeof address === 'object' && address ? address.port : config.httpPort;
    const hostName = config.listenIp === '0.0.0.0' || config.listenIp === '::' ? '127.0.0.1' : config.listenIp;
    const url = `http://${hostName}:${port}`;
    baseUrl ||= url;
    logger.info({ port, workers: pool.size, announcedIp, store: stores.kind }, 'diemcau listening');

    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      pool,
      get conference() {
        return conference;
      },
      get media() {
        return conference.media;
      },
      get plan() {
        return conference.plan;
      },
      stores,
      turn,
      routes,
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
