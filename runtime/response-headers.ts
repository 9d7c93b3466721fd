import type { ServerResponse } from 'node:http';
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

/**
 * Request id and security headers, written where they cost least.
 *
 * Setting a header through Hono (`c.header`, or `secureHeaders` after the handler) turns the
 * response's headers into a fetch `Headers` object and makes @hono/node-server take its slow path;
 * on GET /pingpong the twelve headers of every response cost about a fifth of the throughput
 * (13.3k vs 16.8k requests/s at 100 connections). Under node-server the headers go straight onto
 * Node's ServerResponse instead, where writeHead merges them (a header the handler sets itself
 * wins). Anywhere else (`app.request` in tests, another adapter) Hono's own middleware runs,
 * told to keep the handler's values too.
 */

const requestIdHeader = 'X-Request-Id';
const maxRequestIdLength = 255;
const requestIdPattern = /^[\w\-=]+$/;

/** The headers `secureHeaders()` sends with its defaults, read off it once rather than copied. */
let securityHeaders: [string, string][] | undefined;
const securityHeadersReady = (async () => {
  const probe = new Hono().use(secureHeaders()).get('/', (c) => c.body(null));
  const response = await probe.request('/');
  securityHeaders = [...response.headers].filter(([name]) => name !== 'content-type');
  return securityHeaders;
})();

/** The security headers, for a response written outside Hono (runtime/client-errors.ts). */
export function securityHeaderEntries(): readonly (readonly [string, string])[] {
  return securityHeaders ?? [];
}

/** node-server passes Node's response as `c.env.outgoing`; undefined under any other adapter. */
function nodeResponse(c: Context): ServerResponse | undefined {
  const outgoing = (c.env as { outgoing?: unknown } | undefined)?.outgoing;
  return outgoing !== null && typeof outgoing === 'object' && 'setHeader' in outgoing ? (outgoing as ServerResponse) : undefined;
}

/**
 * Sets `c.var.requestId` (the caller's X-Request-Id when it is a plausible one, else a new UUID),
 * echoes it in the response, and adds the security headers to every response.
 */
export function responseHeaders(): MiddlewareHandler {
  // overwrite: false, so a handler's own value wins here as it does through writeHead.
  const fallbackSecurity = secureHeaders({ overwrite: false });
  // Not async: on every request of every function, an extra promise and resumption count.
  return function requestIdAndSecurity(c, next) {
    const given = c.req.header(requestIdHeader);
    const id =
      given !== undefined && given.length <= maxRequestIdLength && requestIdPattern.test(given) ? given : crypto.randomUUID();
    c.set('requestId', id);
    const outgoing = nodeResponse(c);
    if (!outgoing) {
      c.header(requestIdHeader, id);
      return fallbackSecurity(c, next);
    }
    outgoing.setHeader(requestIdHeader, id);
    if (securityHeaders === undefined) {
      return securityHeadersReady.then((headers) => {
        setAll(outgoing, headers);
        return next();
      });
    }
    setAll(outgoing, securityHeaders);
    return next();
  };
}

function setAll(outgoing: ServerResponse, headers: readonly (readonly [string, string])[]): void {
  for (const [name, value] of headers) outgoing.setHeader(name, value);
}
