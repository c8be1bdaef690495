import express, { type Request, type Response, type NextFunction } from 'express';
import { z } from 'zod';
import type { Conference } from '../app/Conference.ts';
import { livePlan } from '../app/view.ts';
import { renderMaket } from '../core/maket.ts';
import { csv, reportCsv } from '../core/conference/index.ts';
import type { ConferencePlan } from '../protocol/plan.ts';
import { PlanLoadError } from '../app/errors.ts';
import type { PlanChecker } from '../app/plan-check/PlanChecker.ts';
import { principalKey } from '../app/rate-limit.ts';
import { BridgeId } from '../protocol/media.ts';
import { Token, type Principal, type TokenRefusal } from '../protocol/control.ts';
import { INVITE_PATHS, UnknownGrantError } from '../app/conference/tokens.ts';
import { HttpError } from './http-errors.ts';
import { clusterSummary, PlacementError } from '../app/placement/MediaPlacement.ts';
import { NodeId } from '../protocol/cluster.ts';

type Role = Principal['role'];

/** The well-formed access token of the request's `Authorization: Bearer <token>`, or null. */
export function bearerToken(req: Request): string | null {
  const token = Token.safeParse((req.get('authorization') ?? '').replace(/^Bearer\s+/i, ''));
  return token.success ? token.data : null;
}

/** Who the request's `Authorization: Bearer <token>` belongs to, or null. */
export async function bearerPrincipal(req: Request, conference: Conference): Promise<Principal | null> {
  const token = bearerToken(req);
  return token === null ? null : conference.authenticate(token);
}

/** The principal the API's entry found for this request (res.locals.principal), or null. */
export function principalOf(res: Response): Principal | null {
  return (res.locals as { principal?: Principal | null }).principal ?? null;
}

/**
 * The request's principal, required to have one of these roles: 401 without a valid token (its
 * details say why a token was refused, `refusal`: revoked or invalid, for the page to say so),
 * 403 for another role.
 */
export function requireRole(res: Response, roles?: readonly Role[], why?: string): Principal {
  const who = principalOf(res);
  if (!who) {
    const refusal = (res.locals as { refusal?: TokenRefusal }).refusal ?? 'token_invalid';
    throw new HttpError(401, 'unauthenticated', 'a valid access token is required (Authorization: Bearer …)', { refusal });
  }
  if (roles && !roles.includes(who.role)) throw new HttpError(403, 'forbidden', why ?? `not allowed for role ${who.role}`);
  return who;
}

/** Express handler of an async function: its failure goes to the error handler. */
export const wrap =
  (fn: (req: Request, res: Response) => Promise<void> | void) =>
  (req: Request, res: Response, next: NextFunction): void => {
    Promise.resolve()
      .then(() => fn(req, res))
      .catch(next);
  };

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
  plans: PlanChecker,
  deployment: RestDeployment = { controlUrls: [] },
): express.Router {
  const router = express.Router();

  /** The bearer token's holder, required to have one of these roles. */
  const principal = async (_req: Request, res: Response, roles?: Role[]): Promise<Principal> => requireRole(res, roles);

  router.get('/plan/bridges', (_req, res) => {
    res.json(current().plan.bridges.map((b) => ({ id: b.id, name: b.name, tier: b.tier, parentId: b.parentId })));
  });

  router.get(
    '/me',
    wrap(async (req, res) => {
      const who = await principal(req, res);
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
    if (!BridgeId.safeParse(bridgeId).success || !current().plan.bridges.some((b) => b.id === bridgeId)) {
      throw new HttpError(404, 'not_found', `no such bridge [bridgeId:${bridgeId.slice(0, 40)}]`);
    }
    res.json(renderMaket(livePlan(current().plan, current().runner.state), bridgeId));
  });

  router.get(
    '/invites',
    wrap(async (req, res) => {
      await principal(req, res, ['chair', 'secretary']);
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
      await principal(req, res, ['chair', 'secretary']);
      const body = z.object({ token: Token }).safeParse(req.body);
      if (!body.success) throw new HttpError(400, 'invalid_payload', 'body must be { token }');
      res.json({ revoked: await current().tokens.revoke(body.data.token) });
    }),
  );

  router.post(
    '/tokens/reissue',
    wrap(async (req, res) => {
      await principal(req, res, ['chair', 'secretary']);
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
      await principal(req, res, ['technician', 'chair', 'secretary']);
      res.json({ at: Date.now(), bridges: current().health.book.summary() });
    }),
  );

  router.get(
    '/health/:bridgeId',
    wrap(async (req, res) => {
      await principal(req, res, ['technician', 'chair', 'secretary']);
      const bridgeId = String(req.params.bridgeId);
      const health = current().health.book.get(bridgeId);
      if (!health) throw new HttpError(404, 'not_found', `no health of that bridge yet [bridgeId:${bridgeId.slice(0, 40)}]`);
      res.json({ ...health, events: current().health.events(bridgeId) });
    }),
  );

  router.get(
    '/report',
    wrap(async (req, res) => {
      await principal(req, res, ['chair', 'secretary']);
      res.json(current().runner.report());
    }),
  );

  router.get(
    '/report/:file',
    wrap(async (req, res) => {
      await principal(req, res, ['chair', 'secretary']);
      const files = reportCsv(current().runner.report(), { bom: true }) as unknown as Record<string, string>;
      const file = String(req.params.file);
      if (!Object.hasOwn(files, file)) throw new HttpError(404, 'not_found', `reports: ${Object.keys(files).join(', ')}`);
      res.type('text/csv; charset=utf-8').attachment(file).send(files[file]);
    }),
  );

  /** The plan in the body (JSON, or YAML text), checked off the main thread; a 400 with the path of each wrong field. */
  async function planFrom(req: Request, who: Principal): Promise<ConferencePlan> {
    const limited = current().limits.take('plan', principalKey(who));
    if (limited) throw new HttpError(429, 'rate_limited', limited.error.message);
    if (typeof req.body !== 'string' || req.body.length === 0) throw new HttpError(400, 'invalid_payload', 'the body must be a plan: JSON (application/json) or YAML (application/yaml, text/plain)');
    const verdict = await plans.check(req.body, req.is('application/json') ? 'json' : 'yaml');
    if (verdict.ok) return verdict.plan;
    if (verdict.code === 'invalid_plan') throw new HttpError(400, 'invalid_plan', 'the plan is not valid', verdict.errors);
    if (verdict.code === 'malformed_json') throw new HttpError(400, 'malformed_json', verdict.message);
    if (verdict.code === 'busy') throw new HttpError(503, 'busy', verdict.message);
    throw new HttpError(422, verdict.code, verdict.message);
  }

  // Checks a plan and answers with the path of each wrong field; changes nothing.
  router.post(
    '/plan/validate',
    wrap(async (req, res) => {
      const plan = await planFrom(req, await principal(req, res, ['chair', 'secretary']));
      res.json({ ok: true, bridges: plan.bridges.length, items: plan.programme.length, title: plan.title });
    }),
  );

  // Loads another plan in place of the current one (before the meeting starts).
  router.post(
    '/plan',
    wrap(async (req, res) => {
      const plan = await planFrom(req, await principal(req, res, ['chair', 'secretary']));
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
      await principal(req, res, ['technician', 'chair', 'secretary']);
      res.json(clusterSummary(current().placement, current().plan.bridges.map((b) => b.id), current().clock.now()));
    }),
  );

  // Drains a node for maintenance (its halls leave it one by one), or takes it back.
  router.post(
    '/nodes/:nodeId/drain',
    wrap(async (req, res) => {
      await principal(req, res, ['technician']);
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

  return router;
}
