// The `media` role (issue 13): a process that is a media node only. Its own HTTP port serves
// socket.io `/media` (for the halls placed on it; CORS open to the control instances' origins)
// and the node API at /node/v1; its lease is in the registry; the conference's media opens as
// soon as a control instance has created the conference in the store, and follows its state. Its
// plan is the one loaded by REST when the store has one (else its plan file), and a plan loaded
// later on any control instance replaces the conference's media here too (PlanFollower).
import express from 'express';
import pino from 'pino';
import { Server as SocketServer } from 'socket.io';
import type { Config } from '../../../config/index.ts';
import { resolveAnnouncedIp } from '../../../config/index.ts';
import { systemClock, type Clock } from '../../core/conference/index.ts';
import type { ConferencePlan } from '../../protocol/plan.ts';
import { createStores, type Stores } from '../../store/index.ts';
import { attachMediaSignaling } from '../../transport/media-socket.ts';
import { ConferenceFollower } from '../conference/ConferenceFollower.ts';
import { PlanFollower, startingPlan } from '../conference/PlanFollower.ts';
import { PlanChecker } from '../plan-check/PlanChecker.ts';
import { AccessTokens } from '../conference/tokens.ts';
import { RequestLimits } from '../rate-limit.ts';
import { cutOffToken, recheckTokens, tokenGate } from '../../transport/socket-requests.ts';
import { socketServerOptions } from '../../transport/connections.ts';
import { jsonErrors, notFound } from '../../transport/http-errors.ts';
import { startTurn } from '../turn/index.ts';
import { parsePressFeed } from '../feed/FeedOutput.ts';
import type { ConferenceMedia } from './ConferenceMedia.ts';
import { clusterOf, nodeIdOf, startPool } from './from-config.ts';
import { MediaNode } from './MediaNode.ts';
import { listenHttp } from '../listen.ts';

/** A running media node process. */
export interface RunningMediaNode {
  readonly url: string;
  readonly port: number;
  readonly node: MediaNode;
  readonly stores: Stores;
  /** Resolves when the conference's media is open on this node (the conference exists in the store): the first one opened. */
  readonly ready: Promise<ConferenceMedia>;
  /** The plan the node runs (the stored one loaded by REST, else its plan file). */
  readonly plan: ConferencePlan;
  /** The stored version of that plan (0: the plan file). */
  readonly planVersion: number;
  /** Withdraws the node, closes sockets, the conference's media, the workers and the stores; idempotent. */
  close(): Promise<void>;
}

/** Extras of a media node beyond the configuration (tests). */
export interface MediaNodeExtras {
  clock?: Clock;
  /** Shorter lease and renewal, pipe linger and link sampling (tests). */
  timing?: { leaseMs?: number; renewMs?: number; pipeLingerMs?: number; linkIntervalMs?: number };
  /** Tests: awaited during start after the port listens and the node API is mounted, before /media listens (/healthz answers 503 meanwhile). */
  startHold?: (listening: { url: string }) => Promise<void>;
}

/** Starts a media node for one conference plan. */
export async function startMediaNode(config: Config, plan: ConferencePlan, extras: MediaNodeExtras = {}): Promise<RunningMediaNode> {
  const logger = pino({ level: config.logLevel, base: undefined });
  const clock = extras.clock ?? systemClock;
  const announcedIp = resolveAnnouncedIp(config);
  const conferenceId = config.conferenceId;
  const cleanups: (() => unknown)[] = [];
  const undo = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn();
  };
  let closed = false;
  try {
    const stores = await createStores({ redisUrl: config.redisUrl, onError: (e) => logger.error({ err: e.message }, 'store error'), clock });
    cleanups.push(() => stores.close());
    const checker = new PlanChecker({ clock });
    cleanups.push(() => checker.close());
    const starting = await startingPlan({ conferenceId, plans: stores.plans, checker, filePlan: plan, log: logger, fileLevel: 'info' });
    let running = starting.plan;

    const app = express();
    app.disable('x-powered-by');
    const { httpServer, port, url, close: closeHttp } = await listenHttp(app, config, logger);
    cleanups.push(closeHttp);
    // The port listens long before the node serves: /healthz answers 503 until its node API is
    // mounted, /media listens and it follows the stored plan (`health` set at the end). Whether the
    // conference's media is open here (once a control instance created the conference) is `open`.
    let health: (() => object) | undefined;
    app.get('/healthz', (_req, res) => {
      if (!health) return void res.status(503).json({ ok: false, status: 'starting', role: 'media' });
      res.json(health());
    });

    const pool = await startPool(config, announcedIp, logger);
    cleanups.push(() => pool.close());
    const cluster = clusterOf(config, url, announcedIp);
    if (!cluster) throw new Error('a media node needs REDIS_URL and DIEMCAU_NODE_SECRET');
    const node = await MediaNode.create({ nodeId: nodeIdOf(config, port, announcedIp), pool, stores, log: logger, clock, cluster: { ...cluster, ...extras.timing } });
    cleanups.push(() => node.close());
    app.use('/node/v1', node.apiRouter());

    // Whatever else is asked of a media node (a missing route, a path that does not decode, a body the node channel refuses) answers in the API's JSON.
    app.use(notFound());
    app.use(jsonErrors(logger));

    const origins = config.controlUrls.map((u) => new URL(u).origin);
    if (origins.length === 0) logger.warn({}, 'no DIEMCAU_CONTROL_URLS: browsers of the control instances cannot open /media here (CORS)');
    const io = new SocketServer(httpServer, {
      ...socketServerOptions(),
      cors: { origin: origins },
    });
    cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
    cleanups.push(() => io.disconnectSockets(true));
    // io.close() closes the HTTP server, which waits for every open response: the control
    // instances' lifelines to this node end first.
    cleanups.push(() => node.endLifelines());
    let deviceBridges = new Set(running.bridges.filter((b) => b.kind === 'rtp').map((b) => b.id));
    // The halls' links, checked on every request and cut off here as soon as they are revoked or re-issued on any process.
    const tokens = await AccessTokens.watch({ conferenceId, bridges: running.bridges, store: stores.tokens, now: () => clock.now() });
    cleanups.push(() => tokens.close());
    const gate = tokenGate(tokens, new RequestLimits(clock));
    tokens.on('revoked', (token) => cutOffToken(io.of('/media'), token));
    tokens.on('resync', () => recheckTokens(io.of('/media'), (token) => tokens.inForce(token)));
    const authenticate = gate.authenticate;
    // Halls behind firewalls reach this node through TURN too (the same secret as the control instances' coturn or TURN servers).
    const turn = await startTurn(config, announcedIp, authenticate, (line) => logger.debug({ coturn: line }, 'coturn'));
    if (turn) cleanups.push(() => turn.close());
    await extras.startHold?.({ url });
    const rebind = attachMediaSignaling(io.of('/media'), () => node.conference(conferenceId)?.session, {
      gate,
      iceConfig: turn ? (token) => turn.iceConfigFor(token) : undefined,
      // Hardware halls run where the control plane does (the `both` role): here their links only watch.
      isDeviceBridge: (bridgeId) => deviceBridges.has(bridgeId),
      admit: (principal) => node.admit(conferenceId, principal),
      log: (level, msg, data) => logger[level](data ?? {}, msg),
    });

    // The conference's media, once a control instance has created the conference; the feed where labelled.
    const runsFeed = node.labels.feed === 'yes';
    let follower: ConferenceFollower | undefined;
    cleanups.push(() => follower?.close());
    const open = async (forPlan: ConferencePlan): Promise<ConferenceMedia> => {
      const made = await ConferenceFollower.create({ conferenceId, store: stores.conferences, onError: (e, context) => logger.warn({ err: String(e) }, `conference follower: ${context}`) });
      if (closed) {
        await made.close();
        throw new Error('media node closed');
      }
      follower = made;
      const media = await node.openConference({
        conferenceId,
        plan: forPlan,
        state: made,
        feed: runsFeed ? { pressFeed: config.pressFeed ? parsePressFeed(config.pressFeed) : undefined, recordingsDir: config.recordingsDir, preset: config.feedPreset, dataDir: config.dataDir } : undefined,
      });
      running = forPlan;
      deviceBridges = new Set(forPlan.bridges.filter((b) => b.kind === 'rtp').map((b) => b.id));
      rebind();
      return media;
    };
    const ready = (async () => {
      const media = await open(running);
      logger.info({ conferenceId, nodeId: node.nodeId, feed: runsFeed }, 'conference media open on this node');
      return media;
    })();
    ready.catch((error: unknown) => {
      if (!closed) logger.error({ err: String((error as Error)?.message ?? error) }, 'the conference media could not open');
    });

    /**
     * A plan loaded on a control instance (checked by the follower): the conference's media closed
     * and opened again on it, following the new conference the loader put in the store; the halls'
     * pages reconnect. One that fails to open gives way to the previous plan again.
     */
    const takeUp = async (next: ConferencePlan): Promise<void> => {
      await ready.catch(() => undefined);
      const previous = running;
      await node.conference(conferenceId)?.close();
      await follower?.close();
      try {
        await open(next);
      } catch (error) {
        if (!closed) await open(previous);
        throw error;
      } finally {
        io.of('/media').disconnectSockets(false);
      }
    };
    // Follows the stored plan (once the sockets it rewires exist).
    const plans = await PlanFollower.start({ conferenceId, plans: stores.plans, checker, version: starting.version, apply: takeUp, log: logger });
    cleanups.push(() => plans.close());

    logger.info({ port, nodeId: node.nodeId, mediaUrl: cluster.mediaUrl, labels: cluster.labels, workers: pool.size }, 'diemcau media node listening');
    health = () => ({ ok: true, role: 'media', nodeId: node.nodeId, open: node.conference(conferenceId) !== undefined, plan: { version: plans.version, title: running.title }, workers: pool.slots.map((s) => ({ index: s.index, pid: s.worker.pid, load: s.load })) });
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      node,
      stores,
      ready,
      get plan() {
        return running;
      },
      get planVersion() {
        return plans.version;
      },
      close() {
        closed = true;
        closing ??= undo();
        return closing;
      },
    };
  } catch (error) {
    closed = true;
    await undo();
    throw error;
  }
}
