import { request } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Lease } from './instance.ts';
import { sendError } from './respond.ts';

// Hop-by-hop headers describe one connection, not the message (RFC 9110 7.6.1).
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !hopByHop.has(name)) result[name] = value;
  }
  return result;
}

/**
 * Streams a request to the function's process and its answer back, bodies never buffered. The
 * Host header is kept, so links and redirects a function builds point at the gateway.
 */
export function forward(incoming: IncomingMessage, outgoing: ServerResponse, lease: Lease, name: string): void {
  outgoing.once('close', () => {
    lease.release();
    if (!outgoing.writableFinished) upstream.destroy();
  });
  const upstream = request(
    {
      host: '127.0.0.1',
      port: lease.port,
      method: incoming.method,
      path: incoming.url,
      headers: endToEnd(incoming.headers),
      agent: lease.agent,
    },
    (answer) => {
      const headers = endToEnd(answer.headers);
      if (lease.coldStartMs !== undefined) headers['x-knfn-cold-start'] = String(lease.coldStartMs);
      outgoing.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
      // pipe, not pipeline: pipeline aborts an internal AbortController when it finishes, which
      // builds a DOMException with its stack for every answer (a third of this process's CPU per
      // save through the gateway, measured). An upstream reset mid-answer ends the client's
      // response; the client going away destroys upstream (above).
      answer.once('error', () => outgoing.destroy());
      answer.pipe(outgoing);
    },
  );
  upstream.once('error', () => {
    if (outgoing.headersSent) {
      outgoing.destroy();
      return;
    }
    sendError(outgoing, 502, 'function_unavailable', `function ${name} ended before it answered; retry`);
  });
  // pipe, not pipeline: a failed upstream must not destroy the client's socket before its 502.
  incoming.pipe(upstream);
}
