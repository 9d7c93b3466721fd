import { METHOD_NAME_ALL } from 'hono/router';
import { RegExpRouter } from 'hono/router/reg-exp-router';
import { SmartRouter } from 'hono/router/smart-router';
import { TrieRouter } from 'hono/router/trie-router';
import type { GatewayRoute } from '../gateway/public-routes.ts';

/** The name of the function that answers a path, or undefined when none declares it. */
export type RouteTable = (path: string) => string | undefined;

/**
 * Hono's own default router over the given routes in their order, so a path reaches the same
 * function here as on the shared port (first declared match wins).
 */
export function createRouteTable(routes: readonly GatewayRoute[]): RouteTable {
  const router = new SmartRouter<string>({ routers: [new RegExpRouter(), new TrieRouter()] });
  for (const route of routes) router.add(METHOD_NAME_ALL, route.path, route.function);
  return (path) => router.match('GET', path)[0][0]?.[0];
}
