// The REST API under /api, in one router with one entry and one way out. The entry refuses
// compressed bodies, bodies of a type or charset the route does not read and bodies over its
// limit (JSON of at most REST_BODY_MAX_BYTES, a plan's text of at most PLAN_MAX_BYTES, read as
// text and parsed in the plan checker's thread; a paper's PDF is streamed by the paper desk,
// which enforces the plan's size limit); finds who the bearer token belongs to; and takes
// the request from its budget (per token, or per address without one). The way out: 405 for a
// known path with another method, 404, and every error as `{ "error": { "code", "message" } }`.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Conference } from '../app/Conference.ts';
import { PLAN_MAX_BYTES, type PlanChecker } from '../app/plan-check/PlanChecker.ts';
import { principalKey } from '../app/rate-limit.ts';
import type { PressFeedTarget } from '../app/feed/FeedOutput.ts';
import type { ConferencePlan } from '../protocol/plan.ts';
import { HttpError, jsonErrors, notFound, type HttpErrorLog } from './http-errors.ts';
import { createRecordingsRouter, pressSdpHandler } from './recordings-rest.ts';
import { bearerPrincipal, bearerToken, createRestRouter, type RestDeployment } from './rest.ts';
import type { TokenRefusal } from '../protocol/control.ts';
import { createRtpHallRouter } from './rtp-halls-rest.ts';
import { createPapersRouter, PAPER_UPLOAD_TYPES } from './papers-rest.ts';
import { refuseOtherMethods } from './routes.ts';

/**
 * Largest JSON body of the API: its bodies are a token, a re-issue target, a device's receive
 * address (under 200 bytes); 16 kB leaves room and keeps parsing trivial.
 */
export const REST_BODY_MAX_BYTES = 16 * 1024;

/** Paths whose body is a conference plan (read as text, checked in the plan checker's thread). */
const PLAN_PATHS = new Set(['/plan', '/plan/validate']);
const PLAN_TYPES = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'];
const JSON_TYPES = ['application/json'];
/** Paths whose body is a paper's file (streamed to the paper desk, never parsed here). */
const PAPER_UPLOAD = /^\/papers\/slots\/[^/]+\/?$/;

/** The types a request's body may have: a plan's, a paper's, or JSON. */
function bodyTypes(req: Request): string[] {
  if (req.method === 'POST' && PLAN_PATHS.has(req.path)) return PLAN_TYPES;
  if ((req.method === 'PUT' || req.method === 'POST') && PAPER_UPLOAD.test(req.path)) return PAPER_UPLOAD_TYPES;
  return JSON_TYPES;
}

/** What the API needs. */
export interface ApiOptions {
  current: () => Conference;
  baseUrl: () => string;
  loadPlan: (plan: ConferencePlan) => Promise<void>;
  plans: PlanChecker;
  pressFeed?: PressFeedTarget;
  /** Addresses of proxies in front of the server: a request from one is keyed by its X-Forwarded-For. */
  trustedProxies: ReadonlySet<string>;
  /** What /api/me tells the apps of the deployment (every control instance). */
  deployment?: RestDeployment;
  log?: HttpErrorLog;
}

/** The /api router. */
export function createApi(options: ApiOptions): express.Router {
  const api = express.Router();
  api.use(refuseUnreadableBodies);
  api.use(identifyAndLimit(options));
  const planText = express.text({ type: PLAN_TYPES, limit: PLAN_MAX_BYTES, inflate: false, defaultCharset: 'utf-8' });
  const json = express.json({ type: JSON_TYPES, limit: REST_BODY_MAX_BYTES, inflate: false, strict: true });
  api.use((req, res, next) => (req.method === 'POST' && PLAN_PATHS.has(req.path) ? planText : json)(req, res, next));
  api.use(createRestRouter(options.current, options.baseUrl, options.loadPlan, options.plans, options.deployment));
  api.use('/recordings', createRecordingsRouter(options.current));
  api.get('/press.sdp', pressSdpHandler(options.pressFeed));
  api.use('/rtp-halls', createRtpHallRouter(options.current));
  api.use('/papers', createPapersRouter(options.current));
  refuseOtherMethods(api);
  api.use(notFound('no such API'));
  api.use(jsonErrors(options.log));
  return api;
}

/**
 * GET /metrics behind the same entry (token, budget), its errors in the same JSON.
 * `handler` answers with the exposition.
 */
export function createMetricsRoute(options: ApiOptions, handler: RequestHandler): express.Router {
  const router = express.Router();
  router.use(refuseUnreadableBodies);
  router.use(identifyAndLimit(options));
  router.get('/', handler);
  refuseOtherMethods(router);
  router.use(jsonErrors(options.log));
  return router;
}

/**
 * A body must be uncompressed, UTF-8, and of a type its route reads (JSON; a plan also YAML or
 * plain text; a paper a PDF, of no charset). Checked before any byte of it is read.
 */
function refuseUnreadableBodies(req: Request, _res: Response, next: NextFunction): void {
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (!hasBody) return next();
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') return next(new HttpError(415, 'unsupported_encoding', 'the body must not be compressed (no Content-Encoding)'));
  const types = bodyTypes(req);
  if (!req.is(types)) return next(new HttpError(415, 'unsupported_media_type', `the body must be ${types.join(' or ')}`));
  if (types === PAPER_UPLOAD_TYPES) return next();
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return next(new HttpError(415, 'unsupported_charset', 'the body must be UTF-8 (charset=utf-8)'));
  next();
}

/** Finds the bearer token's holder (res.locals.principal) and takes the request from its budget, or its address's. */
function identifyAndLimit(options: ApiOptions): RequestHandler {
  return (req, res, next) => {
    const conference = options.current();
    bearerPrincipal(req, conference)
      .then(async (principal) => {
        (res.locals as { principal: unknown }).principal = principal;
        const key = principal ? principalKey(principal) : `address:${clientAddress(req, options.trustedProxies)}`;
        const limited = conference.limits.take('rest', key);
        if (limited) {
          res.set('Retry-After', '60');
          throw new HttpError(429, 'rate_limited', limited.error.message);
        }
        // A token that grants nothing: why (revoked or re-issued, or never valid), for the 401 to say so and the page to stop.
        const token = principal ? null : bearerToken(req);
        if (token !== null) (res.locals as { refusal: TokenRefusal }).refusal = await conference.refusal(token);
      })
      .then(
        () => next(),
        (error: unknown) => next(error instanceof HttpError ? error : new HttpError(503, 'unavailable', 'the access tokens cannot be read now')),
      );
  };
}

/** The client's address: the peer's, or, behind a trusted proxy, the last address the proxy added. */
export function clientAddress(req: Request, trustedProxies: ReadonlySet<string>): string {
  const peer = req.socket.remoteAddress ?? '';
  if (!trustedProxies.has(peer)) return peer;
  const forwarded = String(req.headers['x-forwarded-for'] ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  return forwarded.at(-1)?.slice(0, 64) ?? peer;
}
