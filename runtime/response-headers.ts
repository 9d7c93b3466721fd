import { ServerResponse } from 'node:http';
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

/**
 * Request id and security headers, written where they cost least.
 *
 * Setting a header through Hono (`c.header`, or `secureHeaders` after the handler) turns the
 * response's headers into a fetch `Headers` object and makes @hono/node-server take its slow path;
 * on GET /pingpong the twelve headers of every response cost about a fifth of the throughput
 * (13.3k vs 16.8k requests/s at 100 connections). Under node-server they join the headers
 * node-server hands to Node's `writeHead` instead (a header the handler sets itself wins): twelve
 * `setHeader` calls, each validated, lower-cased and stored as a pair, then merged again by
 * `writeHead`, allocated more per request than the rest of the response. Anywhere else
 * (`app.request` in tests, another adapter) Hono's own middleware runs, told to keep the handler's
 * values too.
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
    if (securityHeaders === undefined) {
      return securityHeadersReady.then(() => {
        addOurHeaders(outgoing, id);
        return next();
      });
    }
    addOurHeaders(outgoing, id);
    return next();
  };
}

/** Where a response keeps its request id until its writeHead. */
const requestIdOf = Symbol('knfn.requestId');
type Tagged = ServerResponse & { [requestIdOf]?: string };

/** Our headers, keyed in lower case (as node-server keys a handler's headers) so a handler's own wins by assignment. */
let ourHeaders: OutgoingHttpHeaders | undefined;
let ourNames: ReadonlySet<string> = new Set();

function addOurHeaders(outgoing: Tagged, id: string): void {
  if (!(outgoing instanceof ServerResponse)) {
    // Some other response with setHeader (an HTTP/2 one): the general way.
    const other = outgoing as { setHeader(name: string, value: string): unknown };
    other.setHeader(requestIdHeader, id);
    for (const [name, value] of securityHeaders ?? []) other.setHeader(name, value);
    return;
  }
  outgoing[requestIdOf] = id;
  outgoing.writeHead = writeHeadWithOurs;
}

const writeHead = ServerResponse.prototype.writeHead as (this: ServerResponse, statusCode: number, reasonOrHeaders?: unknown, headers?: unknown) => ServerResponse;

/**
 * Node's writeHead with our headers joined to the ones it is given, ours first: given a plain
 * object while nothing was set through `setHeader`, Node writes the headers straight from it.
 * Anything else (a header array, or headers already set on the response) goes the general way:
 * ours through `setHeader`, then Node sets the given ones over them.
 */
function writeHeadWithOurs(
  this: Tagged,
  statusCode: number,
  reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
  maybeHeaders?: OutgoingHttpHeaders | OutgoingHttpHeader[],
): ServerResponse {
  const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : undefined;
  const given = reason === undefined ? (reasonOrHeaders as OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined) : maybeHeaders;
  const id = this[requestIdOf] ?? crypto.randomUUID();
  let headers: OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;
  if (Array.isArray(given) || (given !== undefined && typeof given !== 'object') || this.getHeaderNames().length > 0) {
    if (!this.hasHeader(requestIdHeader)) this.setHeader(requestIdHeader, id);
    for (const [name, value] of securityHeaders ?? []) if (!this.hasHeader(name)) this.setHeader(name, value);
    headers = given;
  } else headers = withOurs(id, given);
  return reason === undefined ? writeHead.call(this, statusCode, headers) : writeHead.call(this, statusCode, reason, headers);
}

function withOurs(id: string, given: OutgoingHttpHeaders | undefined): OutgoingHttpHeaders {
  // Not a spread: on Node 20 (V8 11) a spread copy that then gets the handler's headers added
  // turns into a slow dictionary for writeHead's walk, 2.4 µs per response against 0.3 (Node 22:
  // 0.2 either way).
  const headers: OutgoingHttpHeaders = Object.assign({}, ourHeaders ?? buildOurHeaders());
  headers['x-request-id'] = id;
  for (const name in given) {
    const lower = name.toLowerCase();
    // Differently cased, a handler's header would go out beside ours instead of replacing it.
    if (lower !== name && ourNames.has(lower)) delete headers[lower];
    headers[name] = given[name];
  }
  return headers;
}

function buildOurHeaders(): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { 'x-request-id': '' };
  for (const [name, value] of securityHeaders ?? []) headers[name.toLowerCase()] = value;
  ourNames = new Set(Object.keys(headers));
  if (securityHeaders !== undefined) ourHeaders = headers;
  return headers;
}
