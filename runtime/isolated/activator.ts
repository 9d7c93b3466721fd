import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../logger.ts';
import { ColdStartError } from './function-process.ts';
import type { Instance } from './instance.ts';
import { forward } from './proxy.ts';
import { sendError } from './respond.ts';

export type RequestHandler = (incoming: IncomingMessage, outgoing: ServerResponse) => Promise<void>;

/**
 * Knative's activator for one function: the request waits for a running process (starting one
 * when the function is at zero) and is streamed to it; a start that fails is a 503.
 */
export function activate(instance: Instance): RequestHandler {
  return async function activateFunction(incoming, outgoing) {
    try {
      forward(incoming, outgoing, await instance.acquire(), instance.name);
    } catch (error) {
      if (!(error instanceof ColdStartError)) throw error;
      sendError(outgoing, 503, 'cold_start_failed', error.message);
    }
  };
}

/** A Node HTTP server around `handle` with the runtime's request timeouts and a JSON 500 for a bug. */
export function createHttpServer(handle: RequestHandler, requestTimeoutMs: number, log: Logger): Server {
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
