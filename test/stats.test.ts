import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../db/client.ts';
import type { DatabaseHandle } from '../db/client.ts';
import stats from '../functions/stats/index.ts';
import { loadConfig } from '../runtime/config.ts';
import { defineFunction } from '../runtime/define-function.ts';
import type { AppEnv } from '../runtime/define-function.ts';
import { ApiError } from '../runtime/errors.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { createReadiness } from '../runtime/readiness.ts';
import { createRequestStatsRecorder, latencyBoundsMs, postgresStatsWriter } from '../runtime/request-stats.ts';
import type { RequestStatsRecorder } from '../runtime/request-stats.ts';
import { createServerApp } from '../runtime/server-app.ts';
import { startServer } from '../runtime/server.ts';
import { postgresDatabase } from './support/app.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

const log = createLogger({ level: 'silent' });

/** A function whose answers are steered by the query: `?status=404|500`, `?sleep=ms`. */
function probe(name: string) {
  return defineFunction({
    name,
    description: 'test traffic',
    scale: { min: 0, max: 1, target: 1 },
    app: new Hono<AppEnv>().get('/probe/:id', async (c) => {
      const sleep = Number(c.req.query('sleep') ?? 0);
      if (sleep > 0) await new Promise((resolve) => setTimeout(resolve, sleep));
      if (c.req.query('status') === '404') throw new ApiError(404, 'not_found', 'no such probe');
      if (c.req.query('status') === '500') throw new Error('boom');
      return c.text('ok');
    }),
  });
}

describe('endpoint statistics on PostgreSQL', () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let recorder: RequestStatsRecorder;
  let app: Hono;

  beforeAll(async () => {
    database = await createTestDatabase();
    handle = await openDatabase(postgresDatabase(database.url), log);
    await handle.migrate('migrations');
    recorder = createRequestStatsRecorder({ write: postgresStatsWriter(handle.db), log });
    app = createServerApp({
      functions: [probe('stats-probe'), stats],
      database: handle,
      log,
      metrics: createMetrics(),
      readiness: createReadiness(handle, 1000),
      requestStats: recorder,
    });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  it('reports known traffic exactly: requests, error rates and latency quantiles', async () => {
    // 15 fast errors, 80 answers in (100, 250] ms, 5 in (500, 1000] ms: p50 and p95 fall in the
    // 250 ms bucket, p99 in the 1000 ms one.
    const paths = [
      ...Array.from({ length: 10 }, (_, i) => `/probe/${i}?status=404`),
      ...Array.from({ length: 5 }, (_, i) => `/probe/${i}?status=500`),
      ...Array.from({ length: 80 }, (_, i) => `/probe/${i}?sleep=120`),
      ...Array.from({ length: 5 }, (_, i) => `/probe/${i}?sleep=600`),
    ];
    const statuses = await Promise.all(paths.map(async (path) => (await app.request(path)).status));
    expect(statuses.filter((status) => status === 404)).toHaveLength(10);
    expect(statuses.filter((status) => status === 500)).toHaveLength(5);
    await recorder.flush();

    const response = await app.request('/api/stats?function=stats-probe');
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ window: '1h' });
    expect(Date.parse(body['to'] as string) - Date.parse(body['from'] as string)).toBe(3_600_000);
    expect(body['endpoints']).toEqual([
      {
        function: 'stats-probe',
        method: 'GET',
        route: '/probe/:id',
        requests: 100,
        requestsPerSecond: 100 / 3600,
        // All in this minute (or, across a minute boundary, two): a rate while in use, not 100/3600.
        activeMinutes: expect.any(Number),
        requestsPerActiveSecond: expect.any(Number),
        clientErrorRate: 0.1,
        serverErrorRate: 0.05,
        p50Ms: 250,
        p95Ms: 250,
        p99Ms: 1000,
        lastSeen: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    const endpoint = (body['endpoints'] as { activeMinutes: number; requestsPerActiveSecond: number }[])[0];
    expect([1, 2]).toContain(endpoint?.activeMinutes);
    expect(endpoint?.requestsPerActiveSecond).toBeGreaterThanOrEqual(100 / 120);
    const quarter = (await (await app.request('/api/stats?window=15m&function=stats-probe&route=/probe/:id')).json()) as {
      endpoints: { requests: number; requestsPerSecond: number }[];
    };
    expect(quarter.endpoints.map((endpoint) => [endpoint.requests, endpoint.requestsPerSecond])).toEqual([[100, 100 / 900]]);
    const other = (await (await app.request('/api/stats?route=/nope')).json()) as { endpoints: unknown[] };
    expect(other.endpoints).toEqual([]);
  });

  it('lists endpoints busiest first and answers a bad window with 400 naming query.window', async () => {
    const all = (await (await app.request('/api/stats')).json()) as { endpoints: { requests: number }[] };
    const requests = all.endpoints.map((endpoint) => endpoint.requests);
    expect(requests).toEqual([...requests].sort((a, b) => b - a));
    const bad = await app.request('/api/stats?window=2h');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_input', message: expect.stringContaining('query.window') } });
  });

  it('adds up two instances flushing into the same rows exactly once', async () => {
    const minute = Date.UTC(2026, 0, 1, 12, 0);
    const other = await openDatabase(postgresDatabase(database.url), log);
    try {
      const instances = [handle, other].map((each) =>
        createRequestStatsRecorder({ write: postgresStatsWriter(each.db), log, now: () => minute + 1_000 }),
      );
      for (const [index, instance] of instances.entries()) {
        for (let i = 0; i < 30; i++) instance.record('twins', 'GET', '/twins', i < 3 ? 404 : 200, index === 0 ? 3 : 40);
        instance.record('twins', 'GET', '/twins', 500, 700);
      }
      await Promise.all(instances.map((instance) => instance.flush()));
      // Flushing again writes nothing: the aggregate was swapped out by the first flush.
      await Promise.all(instances.map((instance) => instance.flush()));
      instances[1]?.record('twins', 'GET', '/twins', 200, 3);
      await Promise.all(instances.map((instance) => instance.close()));

      const { rows } = await database.query<{ requests: string; client_errors: string; server_errors: string; latency_counts: string[]; process_starts: string }>(
        `select requests, client_errors, server_errors, latency_counts, process_starts from request_stats where function = 'twins'`,
      );
      expect(rows).toHaveLength(1);
      // Two instances, each cold once.
      expect(rows[0]).toMatchObject({ requests: '63', client_errors: '6', server_errors: '2', process_starts: '2' });
      const expected = latencyBoundsMs.map((bound) => (bound < 5 ? 0 : bound < 50 ? 31 : bound < 1000 ? 61 : 63));
      expect(rows[0]?.latency_counts.map(Number)).toEqual(expected);
    } finally {
      await other.close();
    }
  });

  it('renders a dashboard with an SVG chart and escapes every string', async () => {
    recorder.record('stats-probe', 'GET', '/a<b>"&', 200, 7);
    await recorder.flush();
    const response = await app.request('/stats?window=15m');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await response.text();
    expect(page).toContain('<svg');
    expect(page).toContain('/a&lt;b&gt;&quot;&amp;');
    expect(page).not.toContain('/a<b>');
    expect(page).toContain('/probe/:id');
    expect((await app.request('/stats?window=forever')).status).toBe(400);
  });
});

describe('the server and request statistics', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  const config = (extra: Record<string, string> = {}) =>
    loadConfig({ DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', STATS_FLUSH_INTERVAL_MS: '3600000', ...extra });

  it('flushes at shutdown, before the database closes, and skips the runtime endpoints', async () => {
    const server = await startServer(config(), [probe('shutdown-probe')]);
    for (let i = 0; i < 7; i++) expect((await fetch(`${server.url}/probe/${i}`)).status).toBe(200);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    const before = await database.query('select 1 from request_stats');
    expect(before.rowCount).toBe(0);
    await server.stop();

    const { rows } = await database.query<{ function: string; route: string; requests: string }>(
      'select function, route, requests from request_stats',
    );
    expect(rows).toEqual([{ function: 'shutdown-probe', route: '/probe/:id', requests: '7' }]);
  });

  it('records nothing with STATS_ENABLED=false', async () => {
    const server = await startServer(config({ STATS_ENABLED: 'false' }), [probe('disabled-probe')]);
    expect((await fetch(`${server.url}/probe/1`)).status).toBe(200);
    await server.stop();
    const { rows } = await database.query(`select 1 from request_stats where function = 'disabled-probe'`);
    expect(rows).toEqual([]);
  });
});
