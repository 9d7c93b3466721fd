import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createLogger } from '../../runtime/logger.ts';
import { createMetrics } from '../../runtime/metrics.ts';
import type { Metrics } from '../../runtime/metrics.ts';
import { connectRedis } from '../../runtime/redis/connection.ts';
import type { SharedRedis } from '../../runtime/redis/connection.ts';
import { spawnServer } from './process.ts';
import type { SpawnedProcess } from './process.ts';
import { TcpProxy } from './tcp-proxy.ts';

/** The machine's Redis (.ci/run starts it); every test keeps to keys under a prefix of its own. */
export const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test or run uses: runs never see each other's counters or caches. */
export function testKeyPrefix(): string {
  return `knfn-test:${randomUUID().slice(0, 8)}:`;
}

/** A plain client for a test's own look at Redis (no prefix: it names whole keys). */
export function inspector(): Redis {
  return new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix`. */
export async function dropKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** A cuttable proxy in front of the machine's Redis, and the URL through it. */
export async function startRedisProxy(): Promise<{ proxy: TcpProxy; url: string }> {
  const target = new URL(redisUrl);
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  await proxy.start();
  return { proxy, url: `redis://127.0.0.1:${proxy.port}` };
}

/** The runtime's own connection, as a server opens it, connected before it returns. */
export async function connectTestRedis(
  options: { url?: string; keyPrefix?: string; timeoutMs?: number } = {},
): Promise<{ redis: SharedRedis; metrics: Metrics; keyPrefix: string }> {
  const metrics = createMetrics();
  const keyPrefix = options.keyPrefix ?? testKeyPrefix();
  const redis = connectRedis(
    { url: options.url ?? redisUrl, timeoutMs: options.timeoutMs ?? 150, keyPrefix },
    { log: createLogger({ level: 'silent' }), registry: metrics.registry },
  );
  redis.start();
  await redis.connected;
  return { redis, metrics, keyPrefix };
}

/** Resolves when `output()` contains `text`, or rejects after `timeoutMs` naming what it waited for. */
export async function waitForOutput(output: () => string, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms in:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Two (or `count`) servers of `env.FUNCTION` sharing one database and one Redis under `keyPrefix`,
 * each connected to Redis before this returns: until then each would limit and count alone.
 * REDIS_TIMEOUT_MS defaults to a generous 1000 ms, so a loaded machine does not make a test about
 * sharing fall back to each process's own state; a test about the bound sets its own.
 */
export async function spawnSharingRedis(
  env: Record<string, string> & { DATABASE_URL: string; FUNCTION: string; REDIS_KEY_PREFIX: string },
  count = 2,
): Promise<(SpawnedProcess & { url: string })[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => spawnServer({ MIGRATE_ON_START: 'true', REDIS_URL: redisUrl, REDIS_TIMEOUT_MS: '1000', ...env })),
  );
  await Promise.all(servers.map((server) => waitForOutput(server.output, '"msg":"redis connected"')));
  return servers;
}
