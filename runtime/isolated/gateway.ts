import type { Server } from 'node:http';
import type { Logger } from '../logger.ts';
import { activate, createHttpServer } from './activator.ts';
import type { RequestHandler } from './activator.ts';
import type { Instance } from './instance.ts';
import { sendError } from './respond.ts';
import type { RouteTable } from './route-table.ts';

export interface GatewayOptions {
  /** The public routes only: what the cluster's gateway routes (runtime/gateway/public-routes.ts). */
  routes: RouteTable;
  instances: ReadonlyMap<string, Instance>;
  requestTimeoutMs: number;
  log: Logger;
}

/**
 * The public port when nginx is not installed: the generated nginx gateway's routing in Node. A
 * public route goes to its function (cold-starting it); anything else, the runtime's own
 * `/health*` and `/metrics` included, is the gateway's JSON 404, as in the cluster.
 */
export function createGateway({ routes, instances, requestTimeoutMs, log }: GatewayOptions): Server {
  const activators = new Map<string, RequestHandler>([...instances].map(([name, instance]) => [name, activate(instance)]));
  return createHttpServer(
    async function routeByPath(incoming, outgoing) {
      const path = requestPath(incoming.url ?? '/');
      const name = routes(path);
      const activator = name === undefined ? undefined : activators.get(name);
      if (activator === undefined) return sendError(outgoing, 404, 'not_found', `no route for ${incoming.method ?? 'GET'} ${path}`);
      return activator(incoming, outgoing);
    },
    requestTimeoutMs,
    log,
  );
}

/** The path as Hono matches it: without the query, percent-decoded where that is valid. */
function requestPath(url: string): string {
  const raw = url.split('?', 1)[0] ?? '/';
  try {
    return decodeURI(raw);
  } catch {
    return raw;
  }
}
