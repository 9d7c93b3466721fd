import { METHOD_NAME_ALL } from 'hono/router';
import { RegExpRouter } from 'hono/router/reg-exp-router';
import { SmartRouter } from 'hono/router/smart-router';
import { TrieRouter } from 'hono/router/trie-router';
import type { FunctionDefinition } from '../define-function.ts';

/** The name of the function that answers a path, or undefined when none declares it. */
export type RouteTable = (path: string) => string | undefined;

/**
 * Hono's own default router with every declared route in the order `npm start` registers them, so
 * a path reaches the same function here as on the shared port (first declared match wins).
 */
export function createRouteTable(functions: readonly Pick<FunctionDefinition, 'name' | 'routes'>[]): RouteTable {
  const router = new SmartRouter<string>({ routers: [new RegExpRouter(), new TrieRouter()] });
  for (const definition of functions) {
    for (const route of definition.routes) router.add(METHOD_NAME_ALL, route, definition.name);
  }
  return (path) => router.match('GET', path)[0][0]?.[0];
}
