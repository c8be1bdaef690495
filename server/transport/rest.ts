import express, { type Request, type Response, type NextFunction } from 'express';
import { z } from 'zod';
import type { Conference } from '../app/Conference.ts';
import { livePlan } from '../app/view.ts';
import { renderMaket } from '../core/maket.ts';
import { csv, reportCsv } from '../core/conference/index.ts';
import { PlanError, parsePlan, type ConferencePlan } from '../protocol/plan.ts';
import { PlanLoadError } from '../app/errors.ts';
import { parsePlanText } from '../../config/plan-file.ts';
import { Token, type Principal } from '../protocol/control.ts';
import { INVITE_PATHS, UnknownGrantError } from '../app/conference/tokens.ts';
import { createRtpHallRouter } from './rtp-halls-rest.ts';
import { clusterSummary, PlacementError } from '../app/placement/MediaPlacement.ts';
import { NodeId } from '../protocol/cluster.ts';

type Role = Principal['role'];

/** Who the request's `Authorization: Bearer <token>` belongs to, or null. */
export async function bearerPrincipal(req: Request, conference: Conference): Promise<Principal | null> {
  const token = Token.safeParse((req.get('authorization') ?? '').replace(/^Bearer\s+/i, ''));
  return token.success ? conference.authenticate(token.data) : null;
}

/** An HTTP error with a stable code. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** What the REST API tells the apps of the deployment. */
export interface RestDeployment {
  /** Every control instance (the apps rotate through them); empty: the origin they were loaded from. */
  controlUrls: readonly string[];
}

/** The REST API: who am I, invites and tokens, reports, makets, plan validation, media nodes. Thin: parse, authorise, call. */
export function createRestRouter(
  current: () => Conference,
  baseUrl: () => string,
  loadPlan: (plan: ConferencePlan) => Promise<void>,
  deployment: RestDeployment = { controlUrls: [] },
): express.Router {
  const router = express.Router();
  router.use(express.json({ limit: '2mb' }));
  router.use(express.text({ type: ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'], limit: '2mb' }));

  const wrap =
    (fn: (req: Request, res: Response) => Promise<void> | void) =>
    (req: Request, res: Response, next: NextFunction): void => {
      Promise.resolve(fn(req, res)).catch(next);
    };

  /** The bearer token's holder, required to have one of these roles. */
  async function principal(req: Request, roles?: Role[]): Promise<Principal> {
    const who = await bearerPrincipal(req, current());
    if (!who) {
      // Why, for the page to say so: its link was revoked (or re-issued), or never valid.
      const refusal = await current().refusal((req.get('authorization') ?? '').replace(/^Bearer\s+/i, ''));
      throw new HttpError(401, 'unauthenticated', 'a valid access token is required (Authorization: Bearer …)', { refusal });
    }
    if (roles && !roles.includes(who.role)) throw new HttpError(403, 'forbidden', `not allowed for role ${who.role}`);
    return who;
  }

  router.get('/plan/bridges', (_req, res) => {
    res.json(current().plan.bridges.map((b) => ({ id: b.id, name: b.name, tier: b.tier, parentId: b.parentId })));
  });

  router.get(
    '/me',
    wrap(async (req, res) => {
      const who = await principal(req);
      const bridge = who.role === 'operator' ? current().plan.bridges.find((b) => b.id === who.bridgeId) : undefined;
      res.json({
        ...who,
        bridgeName: bridge?.name,
        bridgeKind: bridge?.kind,
        conferenceId: current().conferenceId,
        title: current().plan.title,
        chairBridgeId: current().chairBridgeId,
        controlUrls: deployment.controlUrls,
      });
    }),
  );

  router.get('/maket/:bridgeId', (req, res) => {
    const bridgeId = String(req.params.bridgeId);
    if (!current().plan.bridges.some((b) => b.id === bridgeId)) throw new HttpError(404, 'not_found', `no bridge ${bridgeId}`);
    res.json(renderMaket(livePlan(current().plan, current().runner.state), bridgeId));
  });

  router.get(
    '/invites',
    wrap(async (req, res) => {
      await principal(req, ['chair', 'secretary']);
      const rows = await current().tokens.inviteList(baseUrl(), INVITE_PATHS);
      if (req.query.format === 'csv') {
        res.type('text/csv; charset=utf-8').attachment('invites.csv');
        res.send('\uFEFF' + csv([['role', 'bridgeId', 'bridgeName', 'url'], ...rows.map((r) => [r.role, r.bridgeId ?? '', r.bridgeName ?? '', r.url])]));
        return;
      }
      res.json(rows);
    }),
  );

  router.post(
    '/tokens/revoke',
    wrap(async (req, res) => {
      await principal(req, ['chair', 'secretary']);
      const body = z.object({ token: Token }).safeParse(req.body);
      if (!body.success) throw new HttpError(400, 'invalid_payload', 'body must be { token }');
      res.json({ revoked: await current().tokens.revoke(body.data.token) });
    }),
  );

  router.post(
    '/tokens/reissue',
    wrap(async (req, res) => {
      await principal(req, ['chair', 'secretary']);
      const body = z.object({ target: z.string().min(1).max(64) }).safeParse(req.body);
      if (!body.success) throw new HttpError(400, 'invalid_payload', 'body must be { target: role or bridgeId }');
      try {
        const token = await current().tokens.reissue(body.data.target);
        const rows = await current().tokens.inviteList(baseUrl(), INVITE_PATHS);
        res.json({ target: body.data.target, url: rows.find((r) => r.url.endsWith(token))?.url });
      } catch (error) {
        if (error instanceof UnknownGrantError) throw new HttpError(404, 'not_found', error.message);
        throw error;
      }
    }),
  );

  router.get(
    '/health',
    wrap(async (req, res) => {
      await principal(req, ['technician', 'chair', 'secretary']);
      res.json({ at: Date.now(), bridges: current().health.book.summary() });
    }),
  );

  router.get(
    '/health/:bridgeId',
    wrap(async (req, res) => {
      await principal(req, ['technician', 'chair', 'secretary']);
      const bridgeId = String(req.params.bridgeId);
      const health = current().health.book.get(bridgeId);
      if (!health) throw new HttpError(404, 'not_found', `no health of ${bridgeId} yet`);
      res.json({ ...health, events: current().health.events(bridgeId) });
    }),
  );

  router.get(
    '/report',
    wrap(async (req, res) => {
      await principal(req, ['chair', 'secretary']);
      res.json(current().runner.report());
    }),
  );

  router.get(
    '/report/:file',
    wrap(async (req, res) => {
      await principal(req, ['chair', 'secretary']);
      const files = reportCsv(current().runner.report(), { bom: true }) as unknown as Record<string, string>;
      const file = String(req.params.file);
      if (!Object.hasOwn(files, file)) throw new HttpError(404, 'not_found', `reports: ${Object.keys(files).join(', ')}`);
      res.type('text/csv; charset=utf-8').attachment(file).send(files[file]);
    }),
  );

  /** The plan in the body (JSON, or YAML text), or a 400 with the path of each wrong field. */
  function planFrom(req: Request): ConferencePlan {
    try {
      return typeof req.body === 'string' ? parsePlanText(req.body, 'plan.yaml') : expectPlan(req.body);
    } catch (error) {
      if (error instanceof PlanError) throw new HttpError(400, 'invalid_plan', 'the plan is not valid', error.errors);
      throw error;
    }
  }

  // Checks a plan and answers with the path of each wrong field; changes nothing.
  router.post(
    '/plan/validate',
    wrap(async (req, res) => {
      await principal(req, ['chair', 'secretary']);
      const plan = planFrom(req);
      res.json({ ok: true, bridges: plan.bridges.length, items: plan.programme.length, title: plan.title });
    }),
  );

  // Loads another plan in place of the current one (before the meeting starts).
  router.post(
    '/plan',
    wrap(async (req, res) => {
      await principal(req, ['chair', 'secretary']);
      const plan = planFrom(req);
      try {
        await loadPlan(plan);
      } catch (error) {
        if (error instanceof PlanLoadError) throw new HttpError(409, error.code, error.message);
        throw error;
      }
      res.json({ ok: true, bridges: plan.bridges.length, items: plan.programme.length, title: plan.title });
    }),
  );

  router.get('/plan', (_req, res) => {
    res.json(current().plan);
  });

  // The media nodes: each node's load and draining state, and where each hall's media is.
  router.get(
    '/nodes',
    wrap(async (req, res) => {
      await principal(req, ['technician', 'chair', 'secretary']);
      res.json(clusterSummary(current().placement, current().plan.bridges.map((b) => b.id), current().clock.now()));
    }),
  );

  // Drains a node for maintenance (its halls leave it one by one), or takes it back.
  router.post(
    '/nodes/:nodeId/drain',
    wrap(async (req, res) => {
      await principal(req, ['technician']);
      const nodeId = NodeId.safeParse(req.params.nodeId);
      const body = z.object({ draining: z.boolean() }).strict().safeParse(req.body);
      if (!nodeId.success || !body.success) throw new HttpError(400, 'invalid_payload', 'POST /api/nodes/<nodeId>/drain with body { draining: true | false }');
      try {
        await current().placement.setDraining(nodeId.data, body.data.draining);
      } catch (error) {
        if (error instanceof PlacementError) throw new HttpError(error.code === 'unknown_node' ? 404 : 409, error.code, error.message);
        throw error;
      }
      res.json({ nodeId: nodeId.data, draining: body.data.draining });
    }),
  );

  // Hardware (RTP) halls: device sheets and receive addresses.
  router.use('/rtp-halls', createRtpHallRouter(current));

  router.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such API' } });
  });
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof HttpError) {
      res.status(error.status).json({ error: { code: error.code, message: error.message, details: error.details } });
      return;
    }
    const e = error as { type?: string; status?: number };
    if (e?.type === 'entity.parse.failed' || e?.status === 400) {
      res.status(400).json({ error: { code: 'invalid_payload', message: 'malformed body' } });
      return;
    }
    if (e?.status === 413) {
      res.status(413).json({ error: { code: 'invalid_payload', message: 'body too large' } });
      return;
    }
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  });
  return router;
}

function expectPlan(body: unknown) {
  const parsed = parsePlan(body);
  if (!parsed.ok) throw new PlanError(parsed.errors);
  return parsed.plan;
}
