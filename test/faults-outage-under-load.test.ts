import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pongNumber, sleep, timedRequest } from './support/load-client.ts';
import type { LoadResult } from './support/load-client.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnServer, stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';
import { startDatabaseProxy } from './support/tcp-proxy.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';

const workers = 20;
const loadMs = 6000;
const cutAtMs = 2000;
const outageMs = 2000;
const requestTimeoutMs = 6000;

describe('a database outage in the middle of concurrent load', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: SpawnedProcess & { url: string };

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await startDatabaseProxy(database.url);
    proxy = proxied.proxy;
    server = await spawnServer({
      DATABASE_URL: proxied.url,
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
      DATABASE_QUERY_TIMEOUT_MS: '2000',
      STATS_ENABLED: 'false',
    });
  });
  afterAll(async () => {
    await proxy?.start().catch(() => undefined);
    await stopProcess(server);
    await proxy?.stop();
    await database?.drop();
  });

  it('answers 200/202 or a JSON 503, never hangs, and loses nothing it acknowledged', async () => {
    const results: LoadResult[] = [];
    const readiness: Array<{ phase: 'outage' | 'after'; status: number | undefined }> = [];
    let faultsInjected = 0;
    let serial = 0;
    const deadline = Date.now() + loadMs;

    const worker = async (index: number) => {
      while (Date.now() < deadline) {
        if ((index + serial) % 2 === 0) {
          results.push(await timedRequest('pingpong', `${server.url}/pingpong`, {}, requestTimeoutMs));
        } else {
          const data = `load ${index}-${serial++} <b>'"`;
          const result = await timedRequest(
            'save',
            `${server.url}/save`,
            { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data }) },
            requestTimeoutMs,
          );
          results.push({ ...result, data });
        }
      }
    };
    const outage = async () => {
      await sleep(cutAtMs);
      await proxy.stop();
      faultsInjected++;
      const restoreAt = Date.now() + outageMs;
      while (Date.now() < restoreAt) {
        const probe = await timedRequest('pingpong', `${server.url}/health/ready`, {}, requestTimeoutMs);
        readiness.push({ phase: 'outage', status: probe.status });
        await sleep(200);
      }
      await proxy.start();
    };
    await Promise.all([outage(), ...Array.from({ length: workers }, (_, index) => worker(index))]);

    // Recovery: readiness and the counter come back by themselves in the same process.
    let ready: LoadResult | undefined;
    for (let attempt = 0; attempt < 50 && ready?.status !== 200; attempt++) {
      if (attempt > 0) await sleep(200);
      ready = await timedRequest('pingpong', `${server.url}/health/ready`, {}, requestTimeoutMs);
    }
    readiness.push({ phase: 'after', status: ready?.status });
    const after = await timedRequest('pingpong', `${server.url}/pingpong`, {}, requestTimeoutMs);

    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
    const failures = results.filter((result) => result.failure !== undefined);
    expect(failures, JSON.stringify(failures.slice(0, 5))).toEqual([]);
    for (const result of results) {
      const expected = result.kind === 'pingpong' ? 200 : 202;
      if (result.status === expected) continue;
      expect(result.status, `${result.kind}: ${result.body}`).toBe(503);
      const body = JSON.parse(result.body) as { error?: { code?: unknown; message?: unknown } };
      expect(body.error?.code).toMatch(/^(database_unavailable|sink_unavailable)$/);
      expect(typeof body.error?.message).toBe('string');
    }
    expect(Math.max(...results.map((result) => result.ms))).toBeLessThan(requestTimeoutMs);
    expect(readiness.some((probe) => probe.phase === 'outage' && probe.status === 503)).toBe(true);
    expect(ready?.status).toBe(200);
    expect(after.status).toBe(200);
    expect(pongNumber(after.body)).toBeDefined();

    const pongs = results.filter((result) => result.kind === 'pingpong' && result.status === 200).map((result) => pongNumber(result.body));
    expect(pongs.every((value) => value !== undefined)).toBe(true);
    const numbers = [...(pongs as number[]), pongNumber(after.body) ?? 0];
    expect(new Set(numbers).size).toBe(numbers.length);
    // A client of its own, ended before the drop: the shared helper's pool has no error listener, and
    // a `drop database ... with (force)` terminating one of its idle connections surfaced as an
    // uncaught exception in about one run in five.
    const checker = new pg.Client({ connectionString: database.url });
    checker.on('error', () => undefined);
    await checker.connect();
    const { rows: counter } = await checker.query<{ count: string }>('select count from ping_count where id = 1');
    expect(Math.max(...numbers)).toBeLessThanOrEqual(Number(counter[0]?.count));

    const acknowledged = results.filter((result) => result.kind === 'save' && result.status === 202);
    const ids = acknowledged.map((result) => (JSON.parse(result.body) as { id: string }).id);
    const storedRows = async () =>
      (
        await checker.query<{ event_id: string; data: string; copies: string }>(
          'select event_id, min(data) as data, count(*) as copies from messages where event_id = any($1) group by event_id',
          [ids],
        )
      ).rows;
    // A save accepted during the cut sits in the local broker's queue until a retry finds the
    // database back (backoff up to 5 s): stored soon after, not at once.
    await expect.poll(async () => (await storedRows()).length, { timeout: 20_000, interval: 250 }).toBe(ids.length);
    const stored = await storedRows();
    await checker.end();
    const byId = new Map(stored.map((row) => [row.event_id, row]));
    const lost = acknowledged.filter((result, index) => byId.get(ids[index] ?? '')?.data !== result.data);
    expect(lost.map((result) => result.data)).toEqual([]);
    expect(stored.every((row) => row.copies === '1')).toBe(true);

    const unavailable = results.filter((result) => result.status === 503).length;
    console.log(
      `faults-outage-under-load: ${faultsInjected} database cut of ${outageMs} ms; ${results.length} requests ` +
        `(${pongs.length} pongs, ${acknowledged.length} saves acknowledged, ${unavailable} answered 503); 0 acknowledged writes lost`,
    );
    // Some load must have landed on each side of the cut for this to test anything.
    expect(unavailable).toBeGreaterThan(0);
    expect(pongs.length).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThan(0);
  });
});
