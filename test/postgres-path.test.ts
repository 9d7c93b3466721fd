import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { loadConfig } from '../runtime/config.ts';
import { startServer } from '../runtime/server.ts';
import type { RunningServer } from '../runtime/server.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

describe('the real server path: HTTP -> runtime -> neon driver -> bridge -> PostgreSQL', () => {
  let database: TestDatabase;
  let server: RunningServer;
  beforeAll(async () => {
    database = await createTestDatabase();
    const config = loadConfig({ DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
    server = await startServer(config, allFunctions);
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  it('migrates the real database at start and answers pong 1, pong 2', async () => {
    const tables = await database.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public'",
    );
    expect(tables.rows.map((row) => row.table_name)).toContain('ping_count');
    expect(await (await fetch(`${server.url}/pingpong`)).text()).toBe('pong 1');
    expect(await (await fetch(`${server.url}/pingpong`)).text()).toBe('pong 2');
    const json = await fetch(`${server.url}/pings`, { headers: { Accept: 'application/json' } });
    expect(await json.json()).toEqual({ pings: 2 });
    expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
  });

  it('gives 500 concurrent requests 500 distinct, contiguous numbers, all committed', async () => {
    const before = Number(await (await fetch(`${server.url}/pings`)).text());
    const answers = await Promise.all(
      Array.from({ length: 500 }, async () => {
        const response = await fetch(`${server.url}/pingpong`);
        expect(response.status).toBe(200);
        return response.text();
      }),
    );
    const numbers = answers.map((answer) => Number(/^pong (\d+)$/.exec(answer)?.[1])).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 500 }, (_, i) => before + i + 1));
    expect(await (await fetch(`${server.url}/pings`)).text()).toBe(String(before + 500));
    const committed = await database.query<{ count: string }>('select count from ping_count where id = 1');
    expect(Number(committed.rows[0]?.count)).toBe(before + 500);
  });
});
