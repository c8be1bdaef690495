import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Server as SocketServer } from 'socket.io';
import pino from 'pino';
import { SfuError, type MediaSession, type WorkerPool } from '../../sfu/index.ts';
import type { Config } from '../../config/index.ts';
import { resolveAnnouncedIp } from '../../config/index.ts';
import { systemClock, type Clock } from '../core/conference/index.ts';
import type { ConferencePlan } from '../protocol/plan.ts';
import { attachMediaSignaling } from '../transport/media-socket.ts';
import { attachControlSignaling } from '../transport/control-socket.ts';
import { createApi, createMetricsRoute, type ApiOptions } from '../transport/api.ts';
import { socketServerOptions } from '../transport/connections.ts';
import { jsonErrors, notFound } from '../transport/http-errors.ts';
import { metricsHandler } from '../transport/metrics.ts';
import { listRoutes, type RouteInfo } from '../transport/routes.ts';
import { PlanChecker } from './plan-check/PlanChecker.ts';
import { PlanFollower, startingPlan } from './conference/PlanFollower.ts';
import { conferenceGate, cutOffToken, recheckTokens } from '../transport/socket-requests.ts';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { createStores, type NodeRegistry, type Stores } from '../store/index.ts';
import { Conference } from './Conference.ts';
import { PlanLoadError } from './errors.ts';
import { clusterOf, nodeIdOf, startPool } from './media-node/from-config.ts';
import { MediaNode } from './media-node/MediaNode.ts';
import { NodeLifelines } from './media-node/NodeLifelines.ts';
import { listenHttp } from './listen.ts';
import { parsePressFeed } from './feed/FeedOutput.ts';
import { startTurn, type TurnService } from './turn/index.ts';
import type { PdfCheckLimits } from './papers/PdfChecker.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where the built browser apps are served from. */
export const PUBLIC_DIR = path.resolve(here, '../../client/public');

/** The answer to an address the server does not have. */
const NOT_FOUND_PAGE = `<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Không tìm thấy trang</title><link rel="stylesheet" href="/style.css"></head><body class="home"><main class="home-main"><section class="card">
<h1>Không tìm thấy trang này</h1><p>Địa chỉ không đúng. Xin mở lại liên kết Văn phòng đã gửi (kể cả phần sau dấu #), hoặc về <a href="/">trang đầu</a>.</p>
</section></main></body></html>`;

/**
 * A running diemcau server (the `both` or `control` role): HTTP, socket.io, the stores, the
 * conference and, in the `both` role, this process's media node and its worker pool.
 */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** The media node's workers (throws `invalid_state` on a control-only instance). */
  readonly pool: WorkerPool;
  /** This process's media node (the `both` role). */
  readonly node: MediaNode | undefined;
  /** The lifelines to the media nodes of a shared registry (none without one). */
  readonly lifelines: NodeLifelines | undefined;
  /** The conference at work (replaced by loadPlan). */
  readonly conference: Conference;
  /** The conference's media session (conference.media). */
  readonly media: MediaSession;
  readonly stores: Stores;
  readonly plan: ConferencePlan;
  /** The stored version of the plan this process runs (0: its plan file, none loaded by REST). */
  readonly planVersion: number;
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
  /** How long a media peer whose socket was lost waits for its client to take it back (15 s). */
  resumeWindowMs?: number;
  /** How often every link is sampled for the technicians (2 s). */
  healthIntervalMs?: number;
  /** After a (re)start, how long halls marked online have to reconnect (20 s). */
  presenceGraceMs?: number;
  /** The conference's time (the system clock by default). */
  clock?: Clock;
  /**
   * A registry of media nodes to place pages' media on (tests: records written through the
   * interface stand in for media nodes); by default the stores' shared one, if any.
   */
  nodes?: NodeRegistry;
  /** Limits of the paper checker (tests lower the time limit). */
  paperCheckLimits?: Partial<PdfCheckLimits>;
  /**
   * Tests: awaited during start after the port listens, the conference is open and the sockets
   * listen, before the API and the pages are mounted (a slow start: /healthz answers 503 meanwhile).
   */
  startHold?: (listening: { url: string }) => Promise<void>;
}

/** Starts the server for one conference plan: the `both` role (the default) or `control`. */
export async function startServer(config: Config, plan: ConferencePlan, extras: ServerExtras = {}): Promise<RunningServer> {
  if (config.role === 'media') throw new Error('startServer runs the both and control roles; a media node starts with startMediaNode');
  const logger = pino({ level: config.logLevel, base: undefined });
  const announcedIp = resolveAnnouncedIp(config);
  const cleanups: (() => unknown)[] = [];
  const undo = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const stores = await createStores({ redisUrl: config.redisUrl, kind: config.store, dataDir: config.dataDir, onError: (e) => logger.error({ err: e.message }, 'store error'), clock: extras.clock });
    cleanups.push(() => stores.close());
    const plans = new PlanChecker({ clock: extras.clock ?? systemClock });
    cleanups.push(() => plans.close());
    // A plan loaded by REST on any process of the deployment is the conference's plan: a process
    // that starts later starts from it, not from its plan file (it says which).
    const starting = await startingPlan({ conferenceId: config.conferenceId, plans: stores.plans, checker: plans, filePlan: plan, log: logger, fileLevel: stores.kind === 'redis' ? 'info' : 'debug' });

    // The port first: a media node's id and URLs are made of it.
    const app = express();
    app.disable('x-powered-by');
    // The apps of one control instance call the others' REST when it goes away (DIEMCAU_CONTROL_URLS).
    const origins = new Set([...config.controlUrls, ...(config.publicUrl ? [new URL(config.publicUrl).origin] : [])]);
    app.use(['/api', '/metrics'], crossOrigin(origins));
    const { httpServer, port, url, close: closeHttp } = await listenHttp(app, config, logger);
    cleanups.push(closeHttp);
    // The port listens long before the process serves: /healthz answers 503 until the conference
    // is open, its sockets listen and the API and the pages are mounted (`health` set at the end),
    // so that a load balancer or a script waiting for the process sends it nothing it would 404.
    let health: (() => object) | undefined;
    app.get('/healthz', (_req, res) => {
      if (!health) return void res.status(503).json({ ok: false, status: 'starting', role: config.role });
      res.json(health());
    });

    // The `both` role carries the media too: a media node in this process, alone or one of several.
    let node: MediaNode | undefined;
    if (config.role === 'both') {
      const pool = await startPool(config, announcedIp, logger);
      cleanups.push(() => pool.close());
      const cluster = clusterOf(config, url, announcedIp);
      if (config.redisUrl && !cluster) logger.warn({}, 'no DIEMCAU_NODE_SECRET: this process\'s media is its own (halls on other instances do not see its halls)');
      const made = await MediaNode.create({ nodeId: nodeIdOf(config, port, announcedIp), pool, stores, log: logger, clock: extras.clock ?? systemClock, cluster });
      cleanups.push(() => made.close());
      if (cluster) app.use('/node/v1', made.apiRouter());
      node = made;
    }
    const pool = node?.pool;
    // A shared registry of media nodes that pipe to each other (redis and a node secret, or a
    // control-only instance); otherwise this process's own media is the node, at the page's own origin.
    const nodes = extras.nodes ?? (stores.kind === 'redis' && (!node || node.clustered) ? stores.nodes : undefined);
    // A lifeline to each media node: one killed is known dead at once, not when its lease ends.
    const lifelines = nodes && (await NodeLifelines.start({ registry: nodes, log: logger }));
    if (lifelines) cleanups.push(() => lifelines.close());

    /** The conference of a plan, with every part it owns (runner, tokens, health; its media on this process's node). */
    const openConference = (forPlan: ConferencePlan): Promise<Conference> =>
      Conference.create({
        conferenceId: config.conferenceId,
        plan: forPlan,
        mediaNode: node,
        stores,
        log: logger,
        clock: extras.clock,
        healthIntervalMs: extras.healthIntervalMs,
        presenceGraceMs: extras.presenceGraceMs,
        rtpListenInfo: pool && { ...pool.listenInfo, portRange: { min: config.rtcMinPort, max: config.rtcMaxPort } },
        nodes,
        feed: { pressFeed: config.pressFeed ? parsePressFeed(config.pressFeed) : undefined, recordingsDir: config.recordingsDir, preset: config.feedPreset, dataDir: config.dataDir },
        papers: { dataDir: config.dataDir, checkLimits: extras.paperCheckLimits },
      });
    let conference = await openConference(starting.plan);
    cleanups.push(() => conference.close());

    const turn = await startTurn(config, announcedIp, (token) => conference.authenticate(token), (line) => logger.debug({ coturn: line }, 'coturn'));
    if (turn) {
      cleanups.push(() => turn.close());
      // npm start prints the TURN URLs in its own text; the log line is for debugging.
      logger.debug({ urls: turn.urls, coturnPid: turn.coturn?.pid }, 'TURN for halls behind firewalls');
    }

    // Follows the stored plan (set below, once the sockets it rewires exist).
    let planFollower: PlanFollower | undefined;
    const trustedProxies = new Set(config.trustedProxies);
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
      ...socketServerOptions(),
      ...(origins.size ? { cors: { origin: [...origins] } } : {}),
      ...(adapter ? { adapter } : {}),
    });
    cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
    cleanups.push(() => io.disconnectSockets(true));
    // io.close() closes the HTTP server, which waits for every open response: the lifelines other
    // control instances hold to this process's node end first.
    if (node) cleanups.push(() => node.endLifelines());
    const rebindMedia = node
      ? attachMediaSignaling(io.of('/media'), () => conference.local?.session, {
          gate: conferenceGate(() => conference),
          routes: extras.routes,
          resumeWindowMs: extras.resumeWindowMs,
          iceConfig: turn ? (token) => turn.iceConfigFor(token) : undefined,
          isDeviceBridge: (bridgeId) => conference.rtpHalls.has(bridgeId),
          admit: (principal) => node.admit(config.conferenceId, principal),
          log: (level, msg, data) => logger[level](data ?? {}, msg),
        })
      : () => undefined;
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
     * After the conference was replaced: its tokens watched, the sockets' handlers on it, every page
     * of this process reconnecting to it (only this process's: another process's pages reconnect
     * when that process runs the new plan, not before, as the redis adapter would have them).
     */
    const rewire = (): void => {
      watchTokens();
      rebindMedia();
      control.rebind();
      io.of('/media').local.disconnectSockets(false);
      io.of('/control').local.disconnectSockets(false);
    };

    /**
     * Replaces the conference with another plan before the meeting starts. The invite links of
     * the roles and of the bridges that remain stay valid; every display reconnects to the new one.
     * The plan is kept in the store with the next version: every other process takes it up.
     */
    let replacing = false;
    const loadPlan = async (next: ConferencePlan): Promise<void> => {
      if (replacing) throw new PlanLoadError('invalid_state', 'another plan is being loaded');
      replacing = true;
      try {
        await planFollower!.load(async () => {
          // The meeting may have started on another instance: the store says so, not this process's copy alone.
          const stored = await stores.conferences.load(config.conferenceId);
          if (conference.runner.state.status !== 'waiting' || (stored && stored.state.status !== 'waiting')) {
            throw new PlanLoadError('invalid_state', 'the meeting has started: a new plan can only be loaded before it');
          }
          // The links of the roles and of the bridges that remain stay in force throughout (never
          // dropped and issued again: a page checked in between would be told its link was revoked);
          // the links of the bridges the new plan does not have are revoked.
          const kept = new Set(['chair', 'secretary', 'technician', 'viewer', ...next.bridges.map((b) => `operator:${b.id}`)]);
          const gone = (await stores.tokens.listTokens(config.conferenceId)).filter((t) => !kept.has(t.grant));
          await conference.close();
          await stores.drop(config.conferenceId, { keepTokens: true });
          for (const t of gone) await stores.tokens.revokeToken(config.conferenceId, t.token);
          conference = await openConference(next);
          rewire();
          // Stored once the new conference is in the store: a process that takes the plan up finds its state there.
          const version = await stores.plans.storePlan(config.conferenceId, JSON.stringify(next), (extras.clock ?? systemClock).now());
          logger.warn({ title: next.title, bridges: next.bridges.length, version }, 'conference plan replaced');
          return version;
        });
      } finally {
        replacing = false;
      }
    };

    /**
     * Takes up a plan another process loaded (checked by the follower): the conference replaced as
     * the loader replaced its own, without dropping the stores a second time. Refused while the
     * meeting runs here; a new conference that fails to open gives way to the previous plan again.
     */
    const takeUp = async (next: ConferencePlan): Promise<void> => {
      if (conference.runner.state.status !== 'waiting') throw new PlanLoadError('invalid_state', 'the meeting has started on this process');
      const previous = conference.plan;
      await conference.close();
      try {
        conference = await openConference(next);
      } catch (error) {
        conference = await openConference(previous);
        throw error;
      } finally {
        rewire();
      }
    };
    planFollower = await PlanFollower.start({ conferenceId: config.conferenceId, plans: stores.plans, checker: plans, version: starting.version, apply: takeUp, log: logger });
    const follower = planFollower;
    cleanups.push(() => follower.close());
    const apiOptions: ApiOptions = {
      current: () => conference,
      baseUrl: () => baseUrl,
      loadPlan,
      plans,
      pressFeed: config.pressFeed ? parsePressFeed(config.pressFeed) : undefined,
      trustedProxies,
      deployment: { controlUrls: config.controlUrls },
      log: logger,
    };
    await extras.startHold?.({ url });
    app.use('/api', createApi(apiOptions));
    app.use('/metrics', createMetricsRoute(apiOptions, metricsHandler(() => conference, pool)));
    app.use(express.static(PUBLIC_DIR, { extensions: ['html'] }));
    // Whatever is left answers 404: a page asked for (GET or HEAD outside /api and /metrics, by a
    // client that takes HTML) is a page in Vietnamese that leads to the start page; anything else
    // (the API, a client that asks for JSON, any other method) the same JSON error.
    app.use((req, res, next) => {
      const page = (req.method === 'GET' || req.method === 'HEAD') && !req.path.startsWith('/api/') && !req.path.startsWith('/metrics') && req.accepts(['html', 'json']) === 'html';
      if (!page) return next();
      res.status(404).type('html').send(NOT_FOUND_PAGE);
    });
    app.use(notFound());
    app.use(jsonErrors(logger));
    const routes = listRoutes((app as unknown as { router: { stack: unknown[] } }).router);
    baseUrl ||= url;
    // At debug: npm start says where to go in words first (a JSON line before it would only confuse).
    logger.debug({ port, role: config.role, nodeId: node?.nodeId, workers: pool?.size ?? 0, announcedIp, store: stores.kind }, 'diemcau listening');
    health = () => ({ ok: true, role: config.role, store: stores.kind, plan: { version: follower.version, title: conference.plan.title }, workers: pool?.slots.map((s) => ({ index: s.index, pid: s.worker.pid, load: s.load })) ?? [] });

    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      node,
      lifelines,
      get pool() {
        if (!pool) throw new SfuError('invalid_state', 'no workers on a control-only instance');
        return pool;
      },
      get conference() {
        return conference;
      },
      get media() {
        return conference.media;
      },
      get plan() {
        return conference.plan;
      },
      get planVersion() {
        return follower.version;
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

/**
 * CORS for the other control instances' pages: an origin of the deployment may call this one's
 * REST with its bearer token (the preflight is answered here); any other origin gets no header.
 */
function crossOrigin(origins: ReadonlySet<string>): express.RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    if (!origin || !origins.has(origin)) return next();
    res.set({ 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-allow-headers': 'authorization, content-type', 'access-control-allow-methods': 'GET, POST, PUT' });
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next();
  };
}
