// The routes of an Express router, read from the router itself: what the method-not-allowed
// answers list, and what the hostile-input suite must cover (a route added without corpus
// entries fails it).
import type express from 'express';
import { HttpError, sendError } from './http-errors.ts';

/** One route: its method (lower case) and its path pattern ('/api/maket/:bridgeId'). */
export interface RouteInfo {
  method: string;
  path: string;
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
}

/** Every route of a router and the routers mounted in it, with their full paths. */
export function listRoutes(router: { stack: unknown[] }, prefix = ''): RouteInfo[] {
  const out: RouteInfo[] = [];
  for (const layer of router.stack as Layer[]) {
    if (layer.route) {
      for (const path of [layer.route.path].flat()) {
        const full = path === '/' && prefix ? prefix : prefix + path;
        for (const method of Object.keys(layer.route.methods)) if (method !== '_all') out.push({ method, path: full });
      }
    } else if (layer.handle?.stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      out.push(...listRoutes(layer.handle as { stack: unknown[] }, prefix + mount));
    }
  }
  return out;
}

/**
 * Answers 405 (with Allow) for a path the router serves with other methods. Call after every
 * route is defined; paths are relative to the router.
 */
export function refuseOtherMethods(router: express.Router): void {
  const byPath = new Map<string, Set<string>>();
  for (const r of listRoutes(router as unknown as { stack: unknown[] })) {
    byPath.set(r.path, (byPath.get(r.path) ?? new Set()).add(r.method.toUpperCase()));
  }
  for (const [path, methods] of byPath) {
    if (methods.has('GET')) methods.add('HEAD');
    const allow = [...methods].sort().join(', ');
    router.all(path, (_req, res) => {
      res.set('Allow', allow);
      sendError(res, new HttpError(405, 'method_not_allowed', `allowed: ${allow}`));
    });
  }
}
