import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, dropKeys, inspector, startRedisProxy, testKeyPrefix } from '../../test/support/redis.ts';
import type { TcpProxy } from '../../test/support/tcp-proxy.ts';
import { redisCache } from './cache.ts';
import type { SharedRedis } from './connection.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A loader that counts its calls and answers whatever `value` holds when it is called. */
function source<T>(initial: T) {
  const state = { value: initial, loads: 0, delayMs: 0 };
  const load = async () => {
    state.loads++;
    const value = state.value;
    if (state.delayMs > 0) await sleep(state.delayMs);
    return value;
  };
  return { state, load };
}

describe('the shared read-through cache on Redis', () => {
  const opened: SharedRedis[] = [];
  let look: Redis;
  let prefix: string;

  /** Another instance's connection under the same prefix. */
  async function instance() {
    const { redis } = await connectTestRedis({ keyPrefix: prefix });
    opened.push(redis);
    return redisCache(redis);
  }

  beforeAll(() => {
    look = inspector();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((redis) => redis.close()));
    await dropKeys(look, prefix);
  });
  afterAll(() => look.disconnect());

  it('loads once per time-to-live for every instance, null included', async () => {
    prefix = testKeyPrefix();
    const [a, b] = [await instance(), await instance()];
    const { state, load } = source<string | null>('Asia/Tokyo');
    expect(await a.readThrough('zone:tokyo', { ttlMs: 300 }, load)).toBe('Asia/Tokyo');
    expect(await b.readThrough('zone:tokyo', { ttlMs: 300 }, load)).toBe('Asia/Tokyo');
    expect(state.loads).toBe(1);
    await sleep(400);
    state.value = null;
    expect(await b.readThrough('zone:tokyo', { ttlMs: 300 }, load)).toBeNull();
    expect(await a.readThrough('zone:tokyo', { ttlMs: 300 }, load)).toBeNull();
    expect(state.loads).toBe(2);
    expect(await look.pttl(`${prefix}cache:zone:tokyo`)).toBeGreaterThan(0);
  });

  it("makes a tag's entries stale for every instance as soon as invalidate returns", async () => {
    prefix = testKeyPrefix();
    const [reader, writer] = [await instance(), await instance()];
    const { state, load } = source('Asia/Tokyo');
    const read = () => reader.readThrough('time:hq', { ttlMs: 60_000, tag: 'location:hq' }, load);
    expect([await read(), await read()]).toEqual(['Asia/Tokyo', 'Asia/Tokyo']);
    state.value = 'Europe/Helsinki';
    await writer.invalidate('location:hq');
    expect(await read()).toBe('Europe/Helsinki');
    expect(state.loads).toBe(2);
  });

  it('never keeps a value a reader loaded before the change and stored after the invalidation', async () => {
    prefix = testKeyPrefix();
    const [reader, writer] = [await instance(), await instance()];
    const { state, load } = source('Asia/Tokyo');
    state.delayMs = 200;
    // The reader has loaded the old row and is slow to return it...
    const slow = reader.readThrough('time:hq', { ttlMs: 60_000, tag: 'location:hq' }, load);
    await sleep(50);
    // ...while the change commits and is invalidated.
    state.value = 'Europe/Helsinki';
    await writer.invalidate('location:hq');
    expect(await slow).toBe('Asia/Tokyo');
    await sleep(50); // the slow reader's store, which is not waited for
    state.delayMs = 0;
    expect(await reader.readThrough('time:hq', { ttlMs: 60_000, tag: 'location:hq' }, load)).toBe('Europe/Helsinki');
  });

  describe('with Redis cut', () => {
    let proxy: TcpProxy;
    let url: string;
    beforeAll(async () => {
      ({ proxy, url } = await startRedisProxy());
    });
    afterAll(() => proxy.stop());

    it('loads every read within the bound, counts the failures, and lands a missed invalidation once back', async () => {
      prefix = testKeyPrefix();
      const { redis, metrics } = await connectTestRedis({ url, keyPrefix: prefix, timeoutMs: 150 });
      opened.push(redis);
      const cut = redisCache(redis);
      const other = await instance();
      const { state, load } = source('Asia/Tokyo');
      const read = (cache: typeof cut) => cache.readThrough('time:hq', { ttlMs: 60_000, tag: 'location:hq' }, load);
      expect(await read(other)).toBe('Asia/Tokyo');

      await proxy.stop();
      state.value = 'Europe/Helsinki';
      const started = performance.now();
      await cut.invalidate('location:hq');
      expect(await read(cut)).toBe('Europe/Helsinki');
      expect(performance.now() - started).toBeLessThan(400);
      expect(await (await metrics.registry.load()).getSingleMetricAsString('redis_failures_total')).toMatch(/redis_failures_total\{use="cache"\} [2-9]/);
      // The other instance still has the old entry: the invalidation did not get through.
      expect(await read(other)).toBe('Asia/Tokyo');

      await proxy.start();
      const deadline = Date.now() + 5000;
      while ((await read(other)) !== 'Europe/Helsinki' && Date.now() < deadline) await sleep(100);
      expect(await read(other)).toBe('Europe/Helsinki');
    });
  });
});
