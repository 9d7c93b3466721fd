import type { Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import type { LazyRegistry } from '../lazy-registry.ts';
import type { Logger } from '../logger.ts';
import { throttledWarning } from './throttled-warning.ts';

export interface RedisSettings {
  /** `redis://[:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: string;
  /** The most a request waits on Redis in all, for one use (connecting, commands, replies). */
  timeoutMs: number;
  /** Put before every key, so several deployments or test runs can share one Redis. */
  keyPrefix: string;
}

/** What Redis is used for: the label of `redis_failures_total` and of the warnings. */
export type RedisUse = 'rate_limit' | 'cache' | 'in_flight';

export type RedisResult<T> = { ok: true; value: T } | { ok: false };

/**
 * One Redis client per process. Redis holds what may be lost (counters, caches, live counts), so
 * on a request's path it is asked with a bound and never waited for: a command fails at once
 * while the client is not connected (no offline queue), and any use gives up after `timeoutMs`.
 */
export interface SharedRedis {
  readonly settings: RedisSettings;
  /**
   * Runs `command` if Redis answers within `timeoutMs`; otherwise `{ ok: false }`, after counting
   * the failure and warning (at most once per interval and use, not once per request).
   */
  run<T>(use: RedisUse, command: (client: Redis) => Promise<T>): Promise<RedisResult<T>>;
  /**
   * Loads the client and connects, in the background; the first `run` does it too. Called once
   * the server listens: loading ioredis costs some 50 ms of CPU, which start-up must not wait for.
   * Resolves once the client is loaded and its first connection attempt is over; never rejects.
   */
  start(): Promise<void>;
  /** Resolves once connected for the first time (never, if Redis is never reached). */
  readonly connected: Promise<void>;
  /** QUIT, bounded: the process never waits on Redis to stop. */
  close(): Promise<void>;
}

export interface SharedRedisOptions {
  log: Logger;
  registry: LazyRegistry;
  /** How often the same kind of failure is logged at most (default 30 s). */
  warnEveryMs?: number;
}

/**
 * Nothing is loaded or connected until `start()` or the first use, so neither start-up nor
 * readiness waits for Redis. Reconnects with a short capped backoff; a connection that goes quiet
 * (a partition, a hung server) is dropped when a reply is a few timeouts overdue, rather than
 * after the kernel's TCP timeouts.
 */
export function connectRedis(settings: RedisSettings, { log, registry, warnEveryMs = 30_000 }: SharedRedisOptions): SharedRedis {
  const redisLog = log.child({ component: 'redis' });
  let failures: Counter<'use'> | undefined;
  registry.use((client, loaded) => {
    const counter = new client.Counter({
      name: 'redis_failures_total',
      help: 'Uses of Redis that failed or exceeded REDIS_TIMEOUT_MS and went on without it (rate_limit: the process limited alone; cache: read the database; in_flight: counts unavailable).',
      labelNames: ['use'] as const,
      registers: [loaded],
    });
    for (const use of ['rate_limit', 'cache', 'in_flight'] as const) counter.inc({ use }, 0);
    failures = counter;
  });
  const warn = throttledWarning(redisLog, warnEveryMs);

  let client: Redis | undefined;
  let closed = false;
  // Until the first connection succeeds or fails, a request may wait for it (within its bound):
  // a new instance's first requests then use Redis rather than all falling back.
  let firstAttemptOver = false;
  let lost = false;
  let markConnected = () => {};
  const connected = new Promise<void>((resolve) => {
    markConnected = resolve;
  });
  let firstAttempt: Promise<void> | undefined;
  const begin = (): Promise<void> =>
    (firstAttempt ??= connectOnce().catch((error: unknown) => {
      firstAttemptOver = true;
      warn('connection', 'the redis client could not be loaded; requests go on without it', { error });
    }));
  const connectOnce = async () => {
    // Through the default export (module.exports): bundled, a dynamic import of ioredis (CommonJS)
    // has no named exports.
    const { Redis } = (await import('ioredis')).default;
    if (closed) return;
    const created = new Redis(settings.url, {
      keyPrefix: settings.keyPrefix,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // No commandTimeout: `run` bounds each use itself, and ioredis would report a reply that is
      // merely late (a busy event loop) as a connection error.
      connectTimeout: Math.max(1000, settings.timeoutMs * 5),
      socketTimeout: Math.max(1000, settings.timeoutMs * 5),
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000) + Math.floor(Math.random() * 100),
      connectionName: 'knfn',
    });
    created.on('ready', () => {
      if (lost) redisLog.info('redis reachable again');
      else if (!firstAttemptOver) redisLog.info('redis connected', { keyPrefix: settings.keyPrefix });
      firstAttemptOver = true;
      lost = false;
      markConnected();
    });
    created.on('error', (error: unknown) => {
      firstAttemptOver = true;
      lost = true;
      warn('connection', 'redis unreachable; requests go on without it (limits per process, no shared cache)', { error });
    });
    created.on('close', () => {
      firstAttemptOver = true;
      lost = true;
    });
    client = created;
    await new Promise<void>((resolve) => {
      created.once('ready', resolve);
      created.once('error', () => resolve());
      created.once('end', resolve);
      created.connect().catch(() => undefined);
    });
  };

  async function run<T>(use: RedisUse, command: (client: Redis) => Promise<T>): Promise<RedisResult<T>> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), settings.timeoutMs);
    });
    try {
      if (!firstAttemptOver && (await Promise.race([begin(), expired])) === 'expired') {
        throw new Error(`redis did not connect within ${settings.timeoutMs} ms`);
      }
      if (client === undefined || closed) throw new Error('redis is not connected');
      const running = command(client);
      const outcome = await Promise.race([running.then((value) => ({ value })), expired]);
      if (outcome === 'expired') {
        running.catch(() => undefined);
        throw new Error(`redis did not answer within ${settings.timeoutMs} ms`);
      }
      return { ok: true, value: outcome.value };
    } catch (error) {
      registry.use(() => failures?.inc({ use }));
      warn(use, `redis failed for ${use.replace('_', '-')}; going on without it`, { error });
      return { ok: false };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    settings,
    run,
    start: begin,
    connected,
    async close() {
      closed = true;
      const open = client;
      if (open === undefined) return;
      if (open.status === 'ready') {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          open.quit().catch(() => undefined),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, settings.timeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      open.disconnect();
    },
  };
}
