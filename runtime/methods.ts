import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { METHOD_NAME_ALL } from 'hono/router';
import { TrieRouter } from 'hono/router/trie-router';
import type { FunctionApp } from './define-function.ts';
import { ApiError } from './errors.ts';

/**
 * Marks a GET handler that changes something (pingpong takes a number, `GET /save` publishes):
 * HEAD on its path is then answered 405 without running it. Hono answers HEAD with the GET
 * handler by default, and a HEAD (a link checker, a monitor) must never have side effects.
 *
 * @example
 * new Hono<AppEnv>().get('/pingpong', changesState, async (c) => c.text(`pong ${await nextPong(c.var.db)}`))
 */
export const changesState: MiddlewareHandler = function changesState(c, next) {
  // The runtime refuses HEAD before this (with the path's full Allow); this covers an app run alone.
  if (c.req.method === 'HEAD') throw methodNotAllowed('HEAD', c.req.path, ['GET']);
  // Not async: it runs before the handler of every such GET, and an async wrapper costs a promise.
  return next();
};

/**
 * The methods an app answers on a path, read off `app.routes`: HEAD wherever GET is, unless that
 * GET is marked `changesState`. Empty when no handler matches the path (a 404), and undefined
 * when an `all()` handler takes any method there.
 */
export function allowedMethods(app: FunctionApp): (path: string) => string[] | undefined {
  const router = new TrieRouter<{ method: string; changesState: boolean }>();
  const writingGets = new Set(app.routes.filter((route) => route.method === 'GET' && route.handler === changesState).map((route) => route.path));
  for (const { method, path } of app.routes) {
    // `use()` middleware is recorded as ALL too, but only on patterns that end in `*`.
    if (method === METHOD_NAME_ALL && path.endsWith('*')) continue;
    router.add(METHOD_NAME_ALL, path, { method, changesState: method === 'GET' && writingGets.has(path) });
  }
  return (path) => {
    const methods: string[] = [];
    for (const [route] of router.match(METHOD_NAME_ALL, path)[0]) {
      if (route.method === METHOD_NAME_ALL) return undefined;
      if (!methods.includes(route.method)) methods.push(route.method);
      if (route.method === 'GET' && !route.changesState && !methods.includes('HEAD')) methods.push('HEAD');
    }
    return methods;
  };
}

/**
 * True when a route (not a `use()` middleware) of the app serving `c` takes the request's own
 * method on its path: the router has matched it already, so the common case needs no second
 * lookup through `allowedMethods`. HEAD is never taken here: Hono routes it to GET handlers, and
 * whether HEAD is allowed depends on `changesState`.
 */
export function routeTakesMethod(c: Context): boolean {
  const method = c.req.method;
  if (method === 'HEAD') return false;
  for (const route of matchedRoutes(c)) {
    if (route.method === method || (route.method === METHOD_NAME_ALL && !route.path.endsWith('*'))) return true;
  }
  return false;
}

export function methodNotAllowed(method: string, path: string, allowed: readonly string[]): ApiError {
  return new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`, {
    headers: { Allow: allowed.join(', ') },
  });
}
