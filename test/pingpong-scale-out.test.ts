import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

type Server = SpawnedProcess & { url: string };

async function pong(url: string): Promise<number> {
  const response = await fetch(`${url}/pingpong`);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return Number(/^pong (\d+)$/.exec(text)?.[1]);
}

describe('pingpong scaled out: two processes sharing one database', () => {
  let database: TestDatabase;
  let servers: Server[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
    // Both migrate at start on purpose: the advisory lock must make concurrent migrators safe.
    servers = await Promise.all(
      [0, 1].map(() =>
        spawnServer({ DATABASE_URL: database.url, MIGRATE_ON_START: 'true', LOG_LEVEL: 'info', DATABASE_POOL_MAX: '10' }),
      ),
    );
  });
  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map((server) => server.exited));
    await database?.drop();
  });

  it('hands 600 concurrent requests over both processes 600 distinct, contiguous numbers', async () => {
    const numbers = await Promise.all(servers.flatMap((server) => Array.from({ length: 300 }, () => pong(server.url))));
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    const [first, second] = servers as [Server, Server];
    expect(await (await fetch(`${first.url}/pings`)).text()).toBe('600');
    expect(await (await fetch(`${second.url}/pings`)).text()).toBe('600');
    const committed = await database.query<{ count: string }>('select count from ping_count where id = 1');
    expect(Number(committed.rows[0]?.count)).toBe(600);
  });
});
