import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/client.ts';
import type { DatabaseHandle } from '../../db/client.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createRequestStatsRecorder, postgresStatsWriter } from '../../runtime/request-stats.ts';
import { memoryDatabase } from '../../test/support/app.ts';
import { readStats } from './query.ts';

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
    const recorder = createRequestStatsRecorder({ write: postgresStatsWriter(handle.db), log: createLogger({ level: 'silent' }), now: () => now });
    for (let i = 0; i < 4; i++) recorder.record('pingpong', 'GET', '/pingpong', i === 0 ? 503 : 200, 3);
    await recorder.flush();
    recorder.record('pingpong', 'GET', '/pingpong', 400, 30);
    await recorder.flush();

    const report = await readStats(handle.db, { window: '15m', now: now + 1000 });
    expect(report.endpoints).toEqual([
      {
        function: 'pingpong',
        method: 'GET',
        route: '/pingpong',
        requests: 5,
        requestsPerSecond: 5 / 900,
        clientErrorRate: 0.2,
        serverErrorRate: 0.2,
        p50Ms: 5,
        p95Ms: 50,
        p99Ms: 50,
        lastSeen: new Date(now).toISOString(),
      },
    ]);
    expect((await readStats(handle.db, { window: '15m', now: now + 16 * 60_000 })).endpoints).toEqual([]);
  });
});
