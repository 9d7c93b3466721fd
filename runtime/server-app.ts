import { Hono } from 'hono';
import { getPath } from 'hono/utils/url';
import type { FunctionDefinition } from './define-function.ts';
import { describeError, errorBody, notFound } from './errors.ts';
import { createFunctionApp } from './function-app.ts';
import type { RuntimeServices } from './function-app.ts';
import { assertDistinctRoutes } from './gateway/public-routes.ts';
import { safeStack } from './logger.ts';
import type { Readiness } from './readiness.ts';

export interface ServerAppOptions extends RuntimeServices {
  functions: FunctionDefinition[];
  readiness: Readiness;
}

/**
 * The HTTP surface of one process: the runtime's own endpoints, then every selected function's
 * declared routes. With a single function (its container) that function also answers every other
 * path, as it does behind its own Knative route.
 */
export function createServerApp({ functions, readiness, ...services }: ServerAppOptions): Hono {
  const root = new Hono();

  // Every path here must be in runtimeEndpoints.
  root.get('/health', (c) => c.json({ status: 'ok' }));
  root.get('/health/liveness', (c) => c.json({ status: 'ok' }));
  const ready = async () => {
    const result = await readiness.check();
    if (result.ready) return Response.json({ status: 'ready' });
    return Response.json(errorBody('not_ready', result.reason), { status: 503, headers: { 'Retry-After': '1' } });
  };
  root.get('/health/ready', ready);
  root.get('/health/readiness', ready);
  root.get('/metrics', async (c) => {
    const registry = await services.metrics.registry.load();
    const text = await registry.metrics();
    return c.body(text, 200, { 'Content-Type': registry.contentType });
  });

  assertDistinctRoutes(functions);
  const apps = functions.map((definition) => {
    const app = createFunctionApp(definition, services);
    const forward = (c: { req: { raw: Request }; env: unknown }) => app.fetch(c.req.raw, c.env);
    for (const route of definition.routes) root.all(route, forward);
    if (functions.length === 1) root.all('*', forward);
    return app;
  });

  root.notFound(notFound);
  root.onError((error, c) => {
    const { status, body, expected, headers } = describeError(error);
    if (!expected) services.log.error('unhandled error', { error, stack: safeStack(error) });
    return c.json(body, status, headers);
  });
  const [only] = apps;
  if (only !== undefined && apps.length === 1) {
    // A function's container: every request but the runtime's own endpoints goes to the one
    // function, as the routes above say. Handing it over directly saves the root app's routing
    // and context on each of them (`app.request()` in tests goes through here too).
    const runtimeFetch = root.fetch;
    root.fetch = (request, env, executionCtx) =>
      isRuntimeEndpoint(request) ? runtimeFetch(request, env, executionCtx) : only.fetch(request, env, executionCtx);
  }
  return root;
}

const runtimeEndpoints = new Set(['/health', '/health/liveness', '/health/ready', '/health/readiness', '/metrics']);

/** A request the root app answers itself: a GET (or HEAD) of one of its paths, read as its router reads them. */
export function isRuntimeEndpoint(request: Request): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && runtimeEndpoints.has(getPath(request));
}
