import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats, QueryObserver } from '../db/client.ts';

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
  };
}
