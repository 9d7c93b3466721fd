/// <reference path="./rate-limiter-flexible.d.ts" />
import type { Redis } from 'ioredis';
import type { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { SharedRedis } from '../redis/connection.ts';
import type { RateLimitPolicy } from './policy.ts';

export interface LimitDecision {
  allowed: boolean;
  remaining: number;
  /** Until the window of this client's count ends. */
  resetMs: number;
}

/** Counts one request of `client` against the policy. */
export type WriteLimiter = (client: string) => Promise<LimitDecision>;

/** Loaded on the first write: a process without any limit, or without writes, never pays for it. */
let library: ReturnType<typeof load> | undefined;
const loadLibrary = () => (library ??= load());

async function load() {
  // See ./rate-limiter-flexible.d.ts for why not the package's index.
  const [redis, memory, result] = await Promise.all([
    import('rate-limiter-flexible/lib/RateLimiterRedis.js'),
    import('rate-limiter-flexible/lib/RateLimiterMemory.js'),
    import('rate-limiter-flexible/lib/RateLimiterRes.js'),
  ]);
  return { RateLimiterRedis: redis.default, RateLimiterMemory: memory.default, RateLimiterRes: result.default };
}

/**
 * The function's write limiter: with Redis, one count per client shared by every instance
 * (rate-limiter-flexible's atomic INCR-with-expiry script); without it, or whenever Redis fails
 * or is slower than REDIS_TIMEOUT_MS, this process's own count (its insurance limiter), so a
 * Redis outage never refuses or delays a request beyond the bound, and a flood is still limited
 * per instance.
 */
export function createWriteLimiter(name: string, policy: RateLimitPolicy, redis?: SharedRedis | undefined): WriteLimiter {
  const options = { points: policy.limit, duration: policy.windowSeconds, keyPrefix: `rl:${name}` };
  let local: RateLimiterMemory | undefined;
  const shared = new WeakMap<Redis, RateLimiterRedis>();

  const inProcess = async (client: string) => {
    const { RateLimiterMemory } = await loadLibrary();
    local ??= new RateLimiterMemory(options);
    return decide(local.consume(client), policy);
  };
  if (!redis) return inProcess;

  return async function limitWrites(client) {
    const { RateLimiterRedis } = await loadLibrary();
    const result = await redis.run('rate_limit', (store) => {
      let limiter = shared.get(store);
      if (!limiter) {
        limiter = new RateLimiterRedis({ ...options, storeClient: store, rejectIfRedisNotReady: true });
        shared.set(store, limiter);
      }
      return decide(limiter.consume(client), policy);
    });
    return result.ok ? result.value : inProcess(client);
  };
}

/** rate-limiter-flexible rejects with its result when the client is over the limit, and with an Error on a store failure. */
async function decide(consumed: Promise<RateLimiterRes>, policy: RateLimitPolicy): Promise<LimitDecision> {
  const { RateLimiterRes } = await loadLibrary();
  try {
    const result = await consumed;
    return { allowed: true, remaining: result.remainingPoints, resetMs: result.msBeforeNext };
  } catch (refusal) {
    if (!(refusal instanceof RateLimiterRes)) throw refusal;
    return { allowed: false, remaining: 0, resetMs: refusal.msBeforeNext > 0 ? refusal.msBeforeNext : policy.windowSeconds * 1000 };
  }
}
