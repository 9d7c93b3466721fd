import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SharedRedis } from './connection.ts';

export interface CacheOptions {
  /** How long an entry is served before it is read again (at most `maxCacheTtlMs`). */
  ttlMs: number;
  /**
   * Entries read under a tag are stale for every process as soon as `invalidate(tag)` returns,
   * e.g. `location:hq` for whatever was read from the location named hq.
   */
  tag?: string;
}

/**
 * A read-through cache shared by every instance through Redis. Values must survive JSON (no
 * `undefined` inside, no Infinity). Redis down or slow: every read goes to `load()`.
 */
export interface SharedCache {
  readThrough<T>(key: string, options: CacheOptions, load: () => Promise<T>): Promise<T>;
  /** Call after the change is committed: readers that started earlier cannot store the old value under the new tag. */
  invalidate(tag: string): Promise<void>;
}

/** No Redis: every read loads. */
export const noCache: SharedCache = {
  readThrough: (_key, _options, load) => load(),
  invalidate: async () => undefined,
};

export const maxCacheTtlMs = 10 * 60_000;
/**
 * A tag's token outlives every entry stored under it, so an entry of an old token can never be
 * found again once its tag has expired and a new token is drawn.
 */
const tagTtlMs = 6 * maxCacheTtlMs;
const invalidationRetryMs = 1000;
/** A tag with no token yet: what entries read before the first invalidation are stored under. */
const initialToken = '-';

type TaggedGet = (tagKey: string, entryKey: string) => Promise<[string, string | null]>;

/** One round trip: the tag's token, and the entry stored under it. */
const taggedGetScript = `local token = redis.call('GET', KEYS[1]) or '${initialToken}'
return {token, redis.call('GET', KEYS[2] .. '#' .. token)}`;
const withScript = new WeakSet<Redis>();

function taggedGet(client: Redis, tagKey: string, entryKey: string): Promise<[string, string | null]> {
  if (!withScript.has(client)) {
    // Sent as EVALSHA, falling back to EVAL once per connection when Redis does not know it yet.
    client.defineCommand('knfnTaggedGet', { numberOfKeys: 2, lua: taggedGetScript });
    withScript.add(client);
  }
  return (client as unknown as { knfnTaggedGet: TaggedGet }).knfnTaggedGet(tagKey, entryKey);
}

/**
 * Entries live under `cache:<key>#<token>`, the token being the tag's current random value:
 * invalidating draws a new token, which orphans every entry stored under the old one (they
 * expire on their own). A reader that loaded the old row before the change committed stores it
 * under the old token, where nobody looks any more; deleting the entry instead would let that
 * reader write the stale value back after the delete.
 */
export function redisCache(redis: SharedRedis): SharedCache {
  const retrying = new Map<string, NodeJS.Timeout>();

  async function setTag(tag: string): Promise<boolean> {
    const result = await redis.run('cache', (client) => client.set(`tag:${tag}`, randomUUID(), 'PX', tagTtlMs));
    return result.ok;
  }

  /** Until it lands or every entry it was for has expired: a missed invalidation would serve old values. */
  function retryInvalidation(tag: string, until: number): void {
    if (retrying.has(tag)) return;
    const timer = setTimeout(async () => {
      retrying.delete(tag);
      if (!(await setTag(tag)) && Date.now() < until) retryInvalidation(tag, until);
    }, invalidationRetryMs);
    timer.unref();
    retrying.set(tag, timer);
  }

  return {
    async readThrough<T>(key: string, { ttlMs, tag }: CacheOptions, load: () => Promise<T>): Promise<T> {
      const entryKey = `cache:${key}`;
      const found = await redis.run('cache', async (client) =>
        tag === undefined ? ([undefined, await client.get(entryKey)] as const) : taggedGet(client, `tag:${tag}`, entryKey),
      );
      const [token, stored] = found.ok ? found.value : [undefined, null];
      const hit = stored === null ? undefined : decode<T>(stored);
      if (hit !== undefined) return hit.value;
      const value = await load();
      if (found.ok) {
        const storeKey = token === undefined ? entryKey : `${entryKey}#${token}`;
        // Not waited for: the answer is ready, and a failed store only costs the next reader a load.
        void redis.run('cache', (client) => client.set(storeKey, JSON.stringify({ value }), 'PX', Math.min(ttlMs, maxCacheTtlMs)));
      }
      return value;
    },
    async invalidate(tag) {
      if (!(await setTag(tag))) retryInvalidation(tag, Date.now() + maxCacheTtlMs);
    },
  };
}

function decode<T>(stored: string): { value: T } | undefined {
  try {
    const parsed = JSON.parse(stored) as { value?: T };
    return 'value' in parsed ? { value: parsed.value as T } : undefined;
  } catch {
    return undefined;
  }
}
