import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnEntry } from './support/process.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

const journal = JSON.parse(await readFile('migrations/meta/_journal.json', 'utf8')) as { entries: unknown[] };

describe('migrations', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  async function appliedCount(): Promise<number> {
    const result = await database.query<{ n: string }>('select count(*) as n from drizzle.__drizzle_migrations');
    return Number(result.rows[0]?.n);
  }

  it('applied by 3 processes at the same moment: all succeed, each migration recorded once', async () => {
    const runs = Array.from({ length: 3 }, () => spawnEntry('runtime/migrate.ts', { DATABASE_URL: database.url }));
    const codes = await Promise.all(runs.map((run) => run.exited));
    expect(codes, runs.map((run) => run.output()).join('\n')).toEqual([0, 0, 0]);
    expect(await appliedCount()).toBe(journal.entries.length);
    const tables = await database.query<{ n: string }>(
      "select count(*) as n from information_schema.tables where table_schema = 'public' and table_name = 'ping_count'",
    );
    expect(tables.rows[0]?.n).toBe('1');
  });

  it('applied again: a no-op', async () => {
    await database.query('insert into ping_count (id, count) values (1, 41)');
    const run = spawnEntry('runtime/migrate.ts', { DATABASE_URL: database.url });
    expect(await run.exited).toBe(0);
    expect(await appliedCount()).toBe(journal.entries.length);
    const row = await database.query<{ count: string }>('select count from ping_count where id = 1');
    expect(row.rows[0]?.count).toBe('41');
  });
});
