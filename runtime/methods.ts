import type { MiddlewareHandler } from 'hono';
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
export const changesState: MiddlewareHandler = async function changesState(c, next) {
  // The runtime refuses HEAD before this (with the path's full Allow); this covers an app run alone.
  if (c.req.method === 'HEAD') throw methodNotAllowed('HEAD', c.req.path, ['GET']);
  await next();
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

export function methodNotAllowed(method: string, path: string, allowed: readonly string[]): ApiError {
  return new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`, {
    headers: { Allow: allowed.join(', ') },
  });
}
