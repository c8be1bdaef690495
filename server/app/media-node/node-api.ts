// The node-to-node API (issue 13), mounted at /node/v1 on a media node's HTTP server. Thin: check
// the signature (node-auth.ts), parse the body (zod), call the node, sign the reply. A refused
// request (forged, replayed, stale, from an unknown node, malformed) is answered with a stable
// JSON code, logged, and changes nothing.
//   POST /node/v1/pipe     PipeRequest   -> PipeReply    send me this track over a pipe
//   POST /node/v1/unpipe   UnpipeRequest -> {}           I no longer need it
//   GET  /node/v1/stats                  -> NodeStats    the pipes of this node, each way
//   GET  /node/v1/alive   (unsigned)     -> a line {nodeId, incarnation}, then held open: the
//                                           control plane's lifeline (server/core/node-death.ts);
//                                           it tells no more than /healthz does
import express, { type Request, type Response } from 'express';
import type { z } from 'zod';
import { NODE_HEADERS, PipeRequest, UnpipeRequest, type NodeStats, type PipeReply } from '../../protocol/cluster.ts';
import { NodeApiError, NonceBook, replySignature, verifyRequest } from './node-auth.ts';

/** What the API asks of its node. */
export interface NodeApiHost {
  /** Whether a node is live in the registry (refresh the view if unsure). */
  knowsNode(nodeId: string): Promise<boolean>;
  pipe(requester: string, request: PipeRequest): Promise<PipeReply>;
  unpipe(requester: string, request: UnpipeRequest): void;
  stats(): Promise<NodeStats>;
  /** Who answers the lifeline: this node's id and incarnation, or null when it is closing. */
  identity(): { nodeId: string; incarnation: string } | null;
  /** Keeps a lifeline's response open (its first line written) until the node closes or the other end goes. */
  holdLifeline(res: Response): void;
}

/** Options of the node API. */
export interface NodeApiOptions {
  secret: string;
  now: () => number;
  log: { warn(data: object, message: string): void };
}

/** The /node/v1 router. */
export function nodeApiRouter(host: NodeApiHost, options: NodeApiOptions): express.Router {
  const nonces = new NonceBook();
  const router = express.Router();
  router.get('/alive', (_req: Request, res: Response) => {
    const me = host.identity();
    if (!me) return void res.status(503).json({ error: { code: 'closing', message: 'node closing' } });
    res.status(200).set({ 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.write(`${JSON.stringify(me)}\n`);
    host.holdLifeline(res);
  });
  // The signed body as sent: never inflated (a compressed body is refused before it is read), 64 kB at most.
  router.use(express.raw({ type: () => true, limit: '64kb', inflate: false }));

  /** Registers a route: authenticate, parse, run, sign. */
  function route<S extends z.ZodType | null, R>(method: 'get' | 'post', path: string, schema: S, run: (requester: string, body: S extends z.ZodType ? z.infer<S> : undefined) => Promise<R>): void {
    router[method](path, (req: Request, res: Response) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const signed = { method: req.method, path: req.originalUrl, headers: req.headers, body };
      void (async () => {
        const requester = await verifyRequest(signed, { secret: options.secret, now: options.now(), nonces, knownNode: (id) => host.knowsNode(id) });
        let payload: unknown;
        if (schema) {
          const parsed = schema.safeParse(parseJson(body));
          if (!parsed.success) {
            const where = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
            throw new NodeApiError('invalid_payload', 400, `invalid ${path} [fields:${where}]`);
          }
          payload = parsed.data;
        }
        const reply = Buffer.from(JSON.stringify(await run(requester, payload as never)));
        const nonce = String(req.headers[NODE_HEADERS.nonce]);
        res.status(200).set('content-type', 'application/json').set(NODE_HEADERS.sig, replySignature(options.secret, nonce, 200, reply)).send(reply);
      })().catch((error: unknown) => {
        const refusal = error instanceof NodeApiError ? error : new NodeApiError('pipe_failed', 500, (error as Error)?.message ?? 'failed');
        if (refusal.status < 500 || !(error instanceof NodeApiError)) {
          options.log.warn({ code: refusal.code, from: headerOf(req, NODE_HEADERS.node), ip: req.socket.remoteAddress, path: req.originalUrl, err: refusal.message }, 'node request refused');
        }
        res.status(refusal.status).json({ error: { code: refusal.code, message: refusal.message } });
      });
    });
  }

  route('post', '/pipe', PipeRequest, (requester, body) => host.pipe(requester, body));
  route('post', '/unpipe', UnpipeRequest, async (requester, body) => {
    host.unpipe(requester, body);
    return {};
  });
  route('get', '/stats', null, () => host.stats());
  router.use((req, res) => void res.status(404).json({ error: { code: 'not_found', message: `no ${req.method} ${req.originalUrl}` } }));
  return router;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function headerOf(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v.slice(0, 64) : undefined;
}
