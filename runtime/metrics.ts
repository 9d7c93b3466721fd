import type { Counter, Histogram } from 'prom-client';
import type { PoolStats, QueryObserver } from '../db/client.ts';
import type { DatabaseSize } from '../db/database.ts';
import { lazyRegistry } from './lazy-registry.ts';
import type { LazyRegistry, PromClientModule, Registry } from './lazy-registry.ts';

export interface RequestLabels {
  function: string;
  method: string;
  route: string;
  status: number;
}

export interface Metrics extends QueryObserver {
  /** prom-client's registry, loaded on first use (`registry.load()`: a scrape, or once the server answered its first request). */
  readonly registry: LazyRegistry;
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
  const registry = lazyRegistry();
  let poolStats: () => PoolStats = () => ({ total: 0, idle: 0, waiting: 0 });
  let databaseSize: (() => Promise<DatabaseSize | undefined>) | undefined;
  // Set once prom-client has loaded; until then each record waits in the registry's queue.
  let recorders: Recorders | undefined;
  registry.use((client, loaded) => {
    recorders = defineMetrics(client, loaded, {
      poolStats: () => poolStats(),
      databaseSize: async () => databaseSize?.(),
    });
  });

  return {
    registry,
    requestFinished(labels, seconds) {
      if (recorders) recorders.requestFinished(labels, seconds);
      else registry.use(() => recorders?.requestFinished(labels, seconds));
    },
    queryFinished(seconds, failed) {
      if (recorders) recorders.queryFinished(seconds, failed);
      else registry.use(() => recorders?.queryFinished(seconds, failed));
    },
    watchPool(stats) {
      poolStats = stats;
    },
    watchDatabaseSize(read, options) {
      databaseSize = cachedReading(read, options);
    },
  };
}

type Recorders = Pick<Metrics, 'requestFinished' | 'queryFinished'>;

interface Readings {
  poolStats(): PoolStats;
  databaseSize(): Promise<DatabaseSize | undefined>;
}

function defineMetrics(client: PromClientModule, registry: Registry, readings: Readings): Recorders {
  const { Counter, Gauge, Histogram, collectDefaultMetrics } = client;
  collectDefaultMetrics({ register: registry });

  const requests: Counter<'function' | 'method' | 'route' | 'status'> = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by function, method, route pattern and status.',
    labelNames: ['function', 'method', 'route', 'status'] as const,
    registers: [registry],
  });
  const requestDuration: Histogram<'function' | 'method' | 'route' | 'status'> = new Histogram({
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
  const poolGauge = (name: string, help: string, read: (stats: PoolStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(readings.poolStats()));
      },
    });
  poolGauge('db_pool_connections', 'Open database connections.', (stats) => stats.total);
  poolGauge('db_pool_idle_connections', 'Idle database connections.', (stats) => stats.idle);
  poolGauge('db_pool_waiting_requests', 'Queries waiting for a connection.', (stats) => stats.waiting);
  new Gauge({
    name: 'db_database_size_bytes',
    help: 'Size of the database on disk (pg_database_size), refreshed at most once a minute.',
    // Labelled so that no series exists until a size is known: a process without the database, or
    // one whose first read has not answered yet, reports nothing rather than 0.
    labelNames: ['database'] as const,
    registers: [registry],
    async collect() {
      const size = await readings.databaseSize();
      this.reset();
      if (size) this.set({ database: size.database }, size.bytes);
    },
  });

  return {
    requestFinished(labels, seconds) {
      const values = { ...labels, status: String(labels.status) };
      requests.inc(values);
      requestDuration.observe(values, seconds);
    },
    queryFinished(seconds, failed) {
      queryDuration.observe({ outcome: failed ? 'error' : 'ok' }, seconds);
      if (failed) queryErrors.inc();
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
