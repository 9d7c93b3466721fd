import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/client.ts';
import type { DatabaseHandle } from '../../db/client.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createRequestStatsRecorder, postgresStatsWriter } from '../../runtime/request-stats.ts';
import { memoryDatabase } from '../../test/support/app.ts';
import { readStats } from './query.ts';
import { readSeries } from './series.ts';

// `npm start` keeps statistics in the embedded database: the same upsert and query must work there.
describe('statistics on the embedded database', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openDatabase(memoryDatabase, createLogger({ level: 'silent' }));
    await handle.migrate('migrations');
  });
  afterAll(() => handle?.close());

  it('adds flushes up and reports them', async () => {
    const now = Date.UTC(2026, 0, 1, 12, 30, 10);
    let clock = now - 3 * 60_000 - 40_000;
    const recorder = createRequestStatsRecorder({ write: postgresStatsWriter(handle.db), log: createLogger({ level: 'silent' }), now: () => clock });
    // 3 requests in the minute 12:26, 5 in the current minute 12:30, of which 11 s have passed.
    for (let i = 0; i < 3; i++) recorder.record('pingpong', 'GET', '/pingpong', 200, 3);
    recorder.record('pingpong', 'GET', 'unmatched', 404, 1);
    await recorder.flush();
    clock = now;
    for (let i = 0; i < 4; i++) recorder.record('pingpong', 'GET', '/pingpong', i === 0 ? 503 : 200, 3);
    await recorder.flush();
    recorder.record('pingpong', 'GET', '/pingpong', 400, 30);
    await recorder.flush();

    const report = await readStats(handle.db, { window: '15m', now: now + 1000 });
    // The JSON keeps the catch-all rows; only the dashboard hides them.
    expect(report.endpoints.map((endpoint) => endpoint.route)).toEqual(['/pingpong', 'unmatched']);
    expect(report.endpoints.slice(0, 1)).toEqual([
      {
        function: 'pingpong',
        method: 'GET',
        route: '/pingpong',
        requests: 8,
        requestsPerSecond: 8 / 900,
        activeMinutes: 2,
        requestsPerActiveSecond: 8 / (60 + 11),
        clientErrorRate: 1 / 8,
        serverErrorRate: 1 / 8,
        p50Ms: 5,
        p95Ms: 50,
        p99Ms: 50,
        lastSeen: new Date(now).toISOString(),
      },
    ]);
    expect((await readStats(handle.db, { window: '15m', now: now + 16 * 60_000 })).endpoints).toEqual([]);
  });

  it('gives one point per minute of the window, without the catch-all routes unless asked', async () => {
    const now = Date.UTC(2026, 0, 1, 12, 30, 11);
    const [series, ...others] = await readSeries(handle.db, { window: '15m', now });
    expect(others).toEqual([]);
    expect(series?.function).toBe('pingpong');
    // 12:15 (partly in the window) to 12:30: the same whole minutes readStats counts.
    expect(series?.points.map((point) => new Date(point.start).toISOString().slice(11, 16))).toEqual(
      Array.from({ length: 16 }, (_, i) => `12:${String(15 + i).padStart(2, '0')}`),
    );
    const active = series?.points.filter((point) => point.requests > 0);
    expect(active?.map(({ start, seconds, requests, clientErrors, serverErrors, p95Ms }) => [start, seconds, requests, clientErrors, serverErrors, p95Ms])).toEqual([
      [Date.UTC(2026, 0, 1, 12, 26), 60, 3, 0, 0, 5],
      [Date.UTC(2026, 0, 1, 12, 30), 11, 5, 1, 1, 50],
    ]);
    const withAll = await readSeries(handle.db, { window: '15m', now, all: true });
    expect(withAll[0]?.requests).toBe(9);
    expect(await readSeries(handle.db, { window: '15m', now: now + 16 * 60_000 })).toEqual([]);
  });
});
