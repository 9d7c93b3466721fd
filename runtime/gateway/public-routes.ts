import type { FunctionDefinition } from '../define-function.ts';

/** One path the public gateway sends to a function (a Hono pattern, e.g. `/api/locations/:name`). */
export interface GatewayRoute {
  path: string;
  function: string;
}

/**
 * What the public gateway routes, in match order: every route of every function that is not
 * internal. Runtime paths (`/health*`, `/metrics`) are no function's routes, so they never appear.
 */
export function publicRoutes(functions: readonly Pick<FunctionDefinition, 'name' | 'routes' | 'internal'>[]): GatewayRoute[] {
  return functions.filter((definition) => !definition.internal).flatMap((definition) => definition.routes.map((path) => ({ path, function: definition.name })));
}

/**
 * Refuses two functions answering the same path: on the shared port and in the gateway only the
 * first would ever be reached, silently.
 */
export function assertDistinctRoutes(functions: readonly Pick<FunctionDefinition, 'name' | 'routes'>[]): void {
  const owners = new Map<string, string>();
  for (const definition of functions) {
    for (const path of definition.routes) {
      const owner = owners.get(path);
      if (owner !== undefined && owner !== definition.name) {
        throw new Error(`functions "${owner}" and "${definition.name}" both declare the route ${path}; give one of them another path`);
      }
      owners.set(path, definition.name);
    }
  }
}
