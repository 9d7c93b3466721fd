import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../logger.ts';
import { ColdStartError } from './function-process.ts';
import type { Instance } from './instance.ts';
import { forward } from './proxy.ts';
import { sendError, sendJson } from './respond.ts';
import type { RouteTable } from './route-table.ts';

export interface GatewayOptions {
  routes: RouteTable;
  instances: ReadonlyMap<string, Instance>;
  requestTimeoutMs: number;
  log: Logger;
}

const liveness = new Set(['/health', '/health/liveness']);
const readiness = new Set(['/health/ready', '/health/readiness']);

/**
 * The one local port, in the place of Knative's activator and ingress: routes a path to its
 * function's process, starting it first when it has scaled to zero.
 */
export function createGateway({ routes, instances, requestTimeoutMs, log }: GatewayOptions): Server {
  const handle = async (incoming: IncomingMessage, outgoing: ServerResponse) => {
    const path = requestPath(incoming.url ?? '/');
    // Ready as soon as it listens: each function reports its own database readiness.
    if (liveness.has(path)) return sendJson(outgoing, 200, { status: 'ok' });
    if (readiness.has(path)) return sendJson(outgoing, 200, { status: 'ready' });

    const name = routes(path);
    const instance = name === undefined ? undefined : instances.get(name);
    if (instance === undefined) {
      return sendError(outgoing, 404, 'not_found', `no route for ${incoming.method ?? 'GET'} ${path}`);
    }
    try {
      forward(incoming, outgoing, await instance.acquire(), instance.name);
    } catch (error) {
      if (!(error instanceof ColdStartError)) throw error;
      sendError(outgoing, 503, 'cold_start_failed', error.message);
    }
  };

  // As in runtime/server.ts: Node only checks these every connectionsCheckingInterval.
  const server = createServer({
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, requestTimeoutMs),
  });
  server.on('request', (incoming: IncomingMessage, outgoing: ServerResponse) => {
    handle(incoming, outgoing).catch((error: unknown) => {
      log.error('gateway error', { error, path: incoming.url });
      if (!outgoing.headersSent) sendError(outgoing, 500, 'internal_error', 'internal server error');
      else outgoing.destroy();
    });
  });
  return server;
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
