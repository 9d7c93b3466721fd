import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../db/client.ts';
import type { DatabaseHandle } from '../db/client.ts';
import { readDatabaseSize } from '../db/database.ts';
import type { DatabaseSize } from '../db/database.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { memoryDatabase, postgresDatabase } from './support/app.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

const sizeLine = /^db_database_size_bytes\{database="([^"]+)"\} (\d+)$/m;

async function scrape(metrics: ReturnType<typeof createMetrics>): Promise<string> {
  return (await metrics.registry.load()).metrics();
}

describe('db_database_size_bytes against real PostgreSQL', () => {
  let testDatabase: TestDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    handle = await openDatabase(postgresDatabase(testDatabase.url), createLogger({ level: 'silent' }));
  });

  afterAll(async () => {
    await handle.close();
    await testDatabase.drop();
  });

  it('reports pg_database_size of the connected database', async () => {
    const metrics = createMetrics();
    metrics.watchDatabaseSize(() => readDatabaseSize(handle.db));
    const match = sizeLine.exec(await scrape(metrics));
    const { rows } = await testDatabase.query<{ bytes: string }>('select pg_database_size(current_database()) as bytes');
    expect(match?.[1]).toBe(testDatabase.name);
    // Within a page or two of what psql sees: the database is idle between the two reads.
    expect(Math.abs(Number(match?.[2]) - Number(rows[0]?.bytes))).toBeLessThan(64 * 1024);
    expect(Number(match?.[2])).toBeGreaterThan(1024 * 1024);
  });
});

it('db_database_size_bytes works on PGlite too', async () => {
  const handle = await openDatabase(memoryDatabase, createLogger({ level: 'silent' }));
  try {
    const size = await readDatabaseSize(handle.db);
    expect(size.bytes).toBeGreaterThan(1024 * 1024);
    expect(typeof size.database).toBe('string');
  } finally {
    await handle.close();
  }
});

describe('db_database_size_bytes at scrape time', () => {
  it('is absent until a size is known, in a process that does not serve the database', async () => {
    expect(await scrape(createMetrics())).not.toMatch(sizeLine);
  });

  it('reads at most once a minute, a failed read included, and keeps the last size', async () => {
    let clock = 0;
    let reads = 0;
    let answer: () => Promise<DatabaseSize> = async () => ({ database: 'knfn', bytes: 1000 });
    const metrics = createMetrics();
    metrics.watchDatabaseSize(
      () => {
        reads += 1;
        return answer();
      },
      { now: () => clock },
    );
    expect(sizeLine.exec(await scrape(metrics))?.[2]).toBe('1000');
    clock = 59_000;
    answer = async () => ({ database: 'knfn', bytes: 2000 });
    expect(sizeLine.exec(await scrape(metrics))?.[2]).toBe('1000');
    expect(reads).toBe(1);
    clock = 60_000;
    expect(sizeLine.exec(await scrape(metrics))?.[2]).toBe('2000');
    expect(reads).toBe(2);
    clock = 120_000;
    answer = async () => {
      throw new Error('database down');
    };
    expect(sizeLine.exec(await scrape(metrics))?.[2]).toBe('2000');
    clock = 150_000;
    await scrape(metrics);
    expect(reads).toBe(3);
  });

  it('never holds a scrape past the deadline for a slow database; the late answer serves the next scrape', async () => {
    let finish: (size: DatabaseSize) => void = () => {};
    const metrics = createMetrics();
    metrics.watchDatabaseSize(() => new Promise<DatabaseSize>((resolve) => (finish = resolve)), { deadlineMs: 100 });
    const started = performance.now();
    const text = await scrape(metrics);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(1000);
    expect(text).not.toMatch(sizeLine);
    // The rest of the scrape is there: a slow size read never costs the other metrics.
    expect(text).toContain('db_pool_connections');
    finish({ database: 'knfn', bytes: 4096 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(sizeLine.exec(await scrape(metrics))?.[2]).toBe('4096');
  });
});
