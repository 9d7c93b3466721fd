import type { Context, MiddlewareHandler } from 'hono';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FunctionDefinition } from '../define-function.ts';
import { ApiError } from '../errors.ts';
import type { SharedRedis } from '../redis/connection.ts';
import { clientAddress, clientKey } from './client-address.ts';
import type { TrustedProxies } from './client-address.ts';
import { createWriteLimiter } from './limiter.ts';
import { rateLimitHeaders } from './policy.ts';
import type { RateLimitPolicy } from './policy.ts';

export interface RateLimitSettings {
  /** RATE_LIMIT_WRITES: one policy for every function, `off` for none; undefined: each function's own. */
  writes: RateLimitPolicy | 'off' | undefined;
  trustedProxies: TrustedProxies;
}

const reads = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The policy a function's writes get: the environment's, else the function's own declaration. An
 * internal function keeps its own: its callers are the platform (a Trigger delivering every event
 * from one address, another function), which a per-client limit would throttle as one client.
 */
export function effectiveWriteLimit(
  definition: Pick<FunctionDefinition, 'writeLimit' | 'internal'>,
  settings: RateLimitSettings,
): RateLimitPolicy | undefined {
  if (settings.writes === 'off') return undefined;
  if (definition.internal) return definition.writeLimit;
  return settings.writes ?? definition.writeLimit;
}

/**
 * Refuses a client's writes (anything but GET, HEAD, OPTIONS) beyond the policy with 429
 * `rate_limited`, `Retry-After` and the RateLimit fields, which allowed writes carry too. Runs
 * before the body is read: a refused upload is never buffered.
 */
export function writeRateLimit(name: string, policy: RateLimitPolicy, settings: RateLimitSettings, redis?: SharedRedis): MiddlewareHandler {
  const limit = createWriteLimiter(name, policy, redis);
  return async function limitWrites(c, next) {
    if (reads.has(c.req.method)) return next();
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const address = clientAddress(incoming?.socket.remoteAddress, c.req.header('X-Forwarded-For'), settings.trustedProxies);
    const decision = await limit(address === undefined ? 'unknown' : clientKey(address));
    const headers = rateLimitHeaders(policy, { ...decision, refused: !decision.allowed });
    if (!decision.allowed) {
      throw new ApiError(
        429,
        'rate_limited',
        `too many writes: at most ${policy.limit} per ${policy.windowSeconds} s from one client; retry after ${headers['Retry-After']} s`,
        { headers },
      );
    }
    setHeaders(c, headers);
    await next();
  };
}

/**
 * Straight onto Node's response under node-server, as runtime/response-headers.ts does (through
 * Hono, any header turns the response onto node-server's slower path); `c.header` elsewhere.
 */
function setHeaders(c: Context, headers: Record<string, string>): void {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  for (const [name, value] of Object.entries(headers)) {
    if (outgoing !== undefined && typeof outgoing.setHeader === 'function') outgoing.setHeader(name, value);
    else c.header(name, value);
  }
}
