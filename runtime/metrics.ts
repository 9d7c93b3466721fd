import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats, QueryObserver } from '../db/client.ts';
import type { DatabaseSize } from '../db/database.ts';

export interface RequestLabels {
  function: string;
  method: string;
  route: string;
  status: number;
}

export interface Metrics extends QueryObserver {
  readonly registry: Registry;
  requestFinished(labels: RequestLabels, seconds: number): void;
  /** Called at scrape time so the pool gauges are never stale. */
  watchPool(stats: () => PoolStats): void;
  /**
   * Reports the database's size as `db_database_size_bytes`, read at scrape time through `read` at
   * most once per `maxAgeMs`; a scrape waits at most `deadlineMs` for it and otherwise answers with
   * the last size read, so a slow database never stalls /metrics.
   */
  watchDatabaseSize(read: () => Promise<DatabaseSize>, options?: DatabaseSizeOptions): void;
}

export interface DatabaseSizeOptions {
  maxAgeMs?: number;
  deadlineMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One registry per process, so tests can build many apps without global clashes. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by function, method, route pattern and status.',
    labelNames: ['function', 'method', 'route', 'status'] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to its response, by function, method, route pattern and status.',
    labelNames: ['function', 'method', 'route', 'status'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const queryDuration = new Histogram({
    name: 'db_query_duration_seconds',
    help: 'Database statement duration.',
    labelNames: ['outcome'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const queryErrors = new Counter({
    name: 'db_query_errors_total',
    help: 'Database statements that failed.',
    registers: [registry],
  });
  let poolStats: () => PoolStats = () => ({ total: 0, idle: 0, waiting: 0 });
  const poolGauge = (name: string, help: string, read: (stats: PoolStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(poolStats()));
      },
    });
  poolGauge('db_pool_connections', 'Open database connections.', (stats) => stats.total);
  poolGauge('db_pool_idle_connections', 'Idle database connections.', (stats) => stats.idle);
  poolGauge('db_pool_waiting_requests', 'Queries waiting for a connection.', (stats) => stats.waiting);
  let databaseSize: (() => Promise<DatabaseSize | undefined>) | undefined;
  new Gauge({
    name: 'db_database_size_bytes',
    help: 'Size of the database on disk (pg_database_size), refreshed at most once a minute.',
    // Labelled so that no series exists until a size is known: a process without the database, or
    // one whose first read has not answered yet, reports nothing rather than 0.
    labelNames: ['database'] as const,
    registers: [registry],
    async collect() {
      const size = await databaseSize?.();
      this.reset();
      if (size) this.set({ database: size.database }, size.bytes);
    },
  });

  return {
    registry,
    requestFinished(labels, seconds) {
      const values = { ...labels, status: String(labels.status) };
      requests.inc(values);
      requestDuration.observe(values, seconds);
    },
    queryFinished(seconds, failed) {
      queryDuration.observe({ outcome: failed ? 'error' : 'ok' }, seconds);
      if (failed) queryErrors.inc();
    },
    watchPool(stats) {
      poolStats = stats;
    },
    watchDatabaseSize(read, options) {
      databaseSize = cachedReading(read, options);
    },
  };
}

/**
 * `read()` at most once per `maxAgeMs` (a failed read counts too: a database that is down is not
 * asked on every scrape), waited for at most `deadlineMs`; a read still running past the deadline
 * lands in the cache for the next caller. Resolves to the last value read, if any.
 */
function cachedReading<T>(read: () => Promise<T>, { maxAgeMs = 60_000, deadlineMs = 1000, now = Date.now }: DatabaseSizeOptions = {}): () => Promise<T | undefined> {
  let last: T | undefined;
  let readAt = Number.NEGATIVE_INFINITY;
  let running: Promise<void> | undefined;
  return async function currentValue() {
    if (running === undefined && now() - readAt >= maxAgeMs) {
      readAt = now();
      running = read()
        .then(
          (value) => {
            last = value;
          },
          () => {},
        )
        .finally(() => {
          running = undefined;
        });
    }
    if (running !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
        timer.unref();
      });
      await Promise.race([running, deadline]).finally(() => clearTimeout(timer));
    }
    return last;
  };
}
