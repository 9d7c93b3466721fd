import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, dropKeys, inspector, startRedisProxy, testKeyPrefix } from '../../test/support/redis.ts';
import { createMetrics } from '../metrics.ts';
import { createInFlight } from './in-flight.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fast = { publishEveryMs: 100, ttlMs: 600 };

describe('requests in flight', () => {
  let look: Redis;
  beforeAll(() => {
    look = inspector();
  });
  afterAll(() => look.disconnect());

  it('counts this process alone without Redis, and reports it in the gauge', async () => {
    const metrics = createMetrics();
    const inFlight = createInFlight(['locations', 'time'], { registry: metrics.registry });
    inFlight.enter('locations');
    inFlight.enter('locations');
    inFlight.enter('time');
    inFlight.leave('time');
    expect(await inFlight.report()).toEqual({ scope: 'this-process', instances: 1, functions: { locations: 2, time: 0 } });
    const gauge = await (await metrics.registry.load()).getSingleMetricAsString('http_requests_in_flight');
    expect(gauge).toContain('http_requests_in_flight{function="locations"} 2');
    expect(gauge).toContain('http_requests_in_flight{function="time"} 0');
  });

  it('sums every live instance through Redis and drops one that stopped publishing', async () => {
    const keyPrefix = testKeyPrefix();
    const a = await connectTestRedis({ keyPrefix });
    const b = await connectTestRedis({ keyPrefix });
    try {
      const first = createInFlight(['locations', 'stats'], { redis: a.redis, instanceId: 'first', ...fast });
      const second = createInFlight(['locations'], { redis: b.redis, instanceId: 'second', ...fast });
      first.enter('locations');
      first.enter('stats');
      for (let i = 0; i < 3; i++) second.enter('locations');
      await sleep(250);
      expect(await first.report()).toEqual({ scope: 'all-instances', instances: 2, functions: { locations: 4, stats: 1 } });
      // This process's own count is read live, not from its last publication.
      first.leave('stats');
      expect((await first.report()).functions).toEqual({ locations: 4, stats: 0 });

      // The second instance dies without a word: its entry stays until its time is up.
      await b.redis.close();
      expect((await first.report()).functions).toEqual({ locations: 4, stats: 0 });
      await sleep(fast.ttlMs + 100);
      expect(await first.report()).toEqual({ scope: 'all-instances', instances: 1, functions: { locations: 1, stats: 0 } });
      expect(await look.hkeys(`${keyPrefix}in-flight`)).toEqual(['first']);

      // A graceful stop takes its counts away at once.
      await first.close();
      expect(await look.hkeys(`${keyPrefix}in-flight`)).toEqual([]);
      await second.close();
    } finally {
      await a.redis.close();
      await dropKeys(look, keyPrefix);
    }
  });

  it('says unavailable within the bound when Redis does not answer', async () => {
    const { proxy, url } = await startRedisProxy();
    const { redis, metrics } = await connectTestRedis({ url, timeoutMs: 150 });
    try {
      const inFlight = createInFlight(['locations'], { redis, ...fast });
      inFlight.enter('locations');
      expect((await inFlight.report()).scope).toBe('all-instances');
      proxy.setMode('silent');
      const started = performance.now();
      expect(await inFlight.report()).toEqual({ scope: 'unavailable', instances: null, functions: null });
      expect(performance.now() - started).toBeLessThan(400);
      expect(await (await metrics.registry.load()).getSingleMetricAsString('redis_failures_total')).toMatch(/use="in_flight"\} [1-9]/);
      await inFlight.close();
    } finally {
      await redis.close();
      await proxy.stop();
    }
  });
});
