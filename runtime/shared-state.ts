import type { MiddlewareHandler } from 'hono';
import type { FunctionDefinition } from './define-function.ts';
import type { LazyRegistry } from './lazy-registry.ts';
import type { Logger } from './logger.ts';
import { trustedProxies } from './rate-limit/client-address.ts';
import { effectiveWriteLimit, writeRateLimit } from './rate-limit/middleware.ts';
import type { RateLimitSettings } from './rate-limit/middleware.ts';
import { noCache, redisCache } from './redis/cache.ts';
import type { SharedCache } from './redis/cache.ts';
import { connectRedis } from './redis/connection.ts';
import type { RedisSettings, SharedRedis } from './redis/connection.ts';
import { createInFlight } from './redis/in-flight.ts';
import type { InFlight } from './redis/in-flight.ts';

/**
 * What instances of a function share beyond their process (ARCHITECTURE.md: Redis holds what must
 * be shared but may be lost): write limits, requests in flight, a read-through cache. Without
 * REDIS_URL each process keeps its own, and Redis down degrades to that, never to an error.
 */
export interface SharedState {
  cache: SharedCache;
  inFlight: InFlight;
  /** The function's write limit middleware, or undefined when its writes are not limited. */
  writeLimit(definition: FunctionDefinition): MiddlewareHandler | undefined;
  /**
   * Connects to Redis in the background, once the server listens (the first use would, too);
   * resolves when the client is loaded and its first attempt is over (at once without Redis).
   */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface SharedStateOptions {
  redis: RedisSettings | undefined;
  rateLimit: RateLimitSettings;
  /** The functions this process serves: the in-flight gauge has a series for each from the start. */
  functions: readonly string[];
  log: Logger;
  registry: LazyRegistry;
}

export function createSharedState({ redis: settings, rateLimit, functions, log, registry }: SharedStateOptions): SharedState {
  const redis: SharedRedis | undefined = settings === undefined ? undefined : connectRedis(settings, { log, registry });
  return assemble(rateLimit, createInFlight(functions, { redis, registry }), redis);
}

/**
 * One process on its own, as without any of the settings: what an app built in a test without a
 * server gets (a function's declared limit still applies, per process).
 */
export function processLocalState(functions: readonly string[] = []): SharedState {
  return assemble({ writes: undefined, trustedProxies: trustedProxies([]) }, createInFlight(functions), undefined);
}

function assemble(rateLimit: RateLimitSettings, inFlight: InFlight, redis: SharedRedis | undefined): SharedState {
  return {
    cache: redis ? redisCache(redis) : noCache,
    inFlight,
    writeLimit(definition) {
      const policy = effectiveWriteLimit(definition, rateLimit);
      return policy === undefined ? undefined : writeRateLimit(definition.name, policy, rateLimit, redis);
    },
    start: async () => redis?.start(),
    async close() {
      await inFlight.close();
      await redis?.close();
    },
  };
}
