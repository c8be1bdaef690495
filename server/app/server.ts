import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Server as SocketServer } from 'socket.io';
import pino from 'pino';
import { WorkerPool, MediaSession } from '../../sfu/index.ts';
import type { Config } from '../../config/index.ts';
import { resolveAnnouncedIp } from '../../config/index.ts';
import type { ConferencePlan } from '../protocol/plan.ts';
import { attachMediaSignaling } from '../transport/media-socket.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where the built browser apps are served from. */
export const PUBLIC_DIR = path.resolve(here, '../../client/public');

/** A running diemcau server: HTTP, socket.io, the worker pool and the conference's media. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly pool: WorkerPool;
  readonly media: MediaSession;
  readonly plan: ConferencePlan;
  /** Closes sockets, HTTP, the session and the workers; idempotent. */
  close(): Promise<void>;
}

/** The province bridge: where the chair sits. */
export function chairBridgeOf(plan: ConferencePlan): string {
  const province = plan.bridges.find((b) => b.tier === 'province');
  if (!province) throw new Error('plan has no province bridge');
  return province.id;
}

/** Starts the server for one conference plan. */
export async function startServer(config: Config, plan: ConferencePlan): Promise<RunningServer> {
  const logger = pino({ level: config.logLevel, base: undefined });
  const announcedIp = resolveAnnouncedIp(config);
  const pool = await WorkerPool.create({
    numWorkers: config.workers,
    listenIp: config.listenIp,
    announcedIp,
    webRtcBasePort: config.webRtcBasePort,
    rtcMinPort: config.rtcMinPort,
    rtcMaxPort: config.rtcMaxPort,
  });
  pool.on('workerdied', ({ index, pid, error }) => logger.error({ index, pid, err: error.message }, 'mediasoup worker died'));
  pool.on('workerreplaced', ({ index, pid }) => logger.warn({ index, pid }, 'mediasoup worker replaced'));
  pool.on('workerfailed', ({ index, error }) => logger.error({ index, err: error.message }, 'worker replacement failed; retrying'));

  let media: MediaSession;
  try {
    media = await MediaSession.create(pool, {
      conferenceId: 'default',
      chairBridgeId: chairBridgeOf(plan),
      bridgeIds: plan.bridges.map((b) => b.id),
    });
  } catch (error) {
    pool.close();
    throw error;
  }
  media.on('warning', (w) => logger.warn(w, 'media warning'));
  media.on('medialost', (e) => logger.error(e, 'bridges lost their media (worker died)'));
  media.on('mediarebuilt', (e) => logger.warn(e, 'media rebuilt on replaced worker'));

  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, workers: pool.slots.map((s) => ({ index: s.index, pid: s.worker.pid, load: s.load })) });
  });
  app.get('/api/plan/bridges', (_req, res) => {
    res.json(plan.bridges.map((b) => ({ id: b.id, name: b.name, tier: b.tier, parentId: b.parentId })));
  });
  app.use(express.static(PUBLIC_DIR, { extensions: ['html'] }));

  const httpServer = http.createServer(app);
  const io = new SocketServer(httpServer, { serveClient: false, pingInterval: 10000, pingTimeout: 8000 });
  attachMediaSignaling(io.of('/media'), media, {
    log: (level, msg, data) => logger[level](data ?? {}, msg),
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.httpPort, config.listenIp, () => resolve());
  });
  const address = httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  const host = config.listenIp === '0.0.0.0' || config.listenIp === '::' ? '127.0.0.1' : config.listenIp;
  logger.info({ port, workers: pool.size, announcedIp }, 'diemcau listening');

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    pool,
    media,
    plan,
    close() {
      closing ??= (async () => {
        io.disconnectSockets(true);
        await new Promise<void>((resolve) => io.close(() => resolve()));
        media.close();
        pool.close();
      })();
      return closing;
    },
  };
}
