import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnEntry, spawnServer, stopProcess } from './support/process.ts';
import { startDatabaseProxy } from './support/tcp-proxy.ts';

const role = 'knfn_no_such_role';
const marker = 'MARKER-7f3c9e-users-own-words';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function readiness(base: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}/health/ready`);
  return { status: response.status, body: await response.json() };
}

describe('logs and readiness name the cause of a database failure, never a statement', () => {
  let database: TestDatabase;
  let wrongRoleUrl: string;
  let refusedUrl: string;
  let refusedPort: number;

  beforeAll(async () => {
    database = await createTestDatabase();
    const url = new URL(database.url);
    url.username = role;
    wrongRoleUrl = url.toString();
    refusedPort = await closedPort();
    refusedUrl = `postgres://postgres@127.0.0.1:${refusedPort}/knfn`;
  });
  afterAll(() => database?.drop());

  it('answers readiness with the database\'s own reason for a wrong role, and logs it without the statement', async () => {
    const server = await spawnServer({ DATABASE_URL: wrongRoleUrl, MIGRATE_ON_START: 'false', STATS_ENABLED: 'false' });
    try {
      expect(await readiness(server.url)).toEqual({
        status: 503,
        body: { error: { code: 'not_ready', message: `database unreachable: 28000 role "${role}" does not exist` } },
      });
      const pong = await fetch(`${server.url}/pingpong`);
      expect(pong.status).toBe(503);
      expect(await pong.json()).toEqual({ error: { code: 'database_unavailable', message: 'the database is unreachable; retry shortly' } });
      await expect.poll(() => server.output()).toContain(`28000 role \\"${role}\\" does not exist`);
      expect(server.output()).not.toContain('ping_count');
      expect(server.output()).not.toContain('[object Object]');
    } finally {
      await stopProcess(server);
    }
  });

  it('answers 503 schema_not_ready, not 500, while the database has not been migrated', async () => {
    const server = await spawnServer({ DATABASE_URL: database.url, MIGRATE_ON_START: 'false', STATS_ENABLED: 'false' });
    try {
      const pong = await fetch(`${server.url}/pingpong`);
      expect(pong.status).toBe(503);
      expect(pong.headers.get('retry-after')).toBe('1');
      expect(await pong.json()).toEqual({
        error: { code: 'schema_not_ready', message: 'the database has not been migrated for this release yet; retry shortly' },
      });
      await expect.poll(() => server.output()).toContain('42P01 relation');
    } finally {
      await stopProcess(server);
    }
  });

  it('names the refused address in readiness, and the cause in one line at start-up when migrating fails', async () => {
    const server = await spawnServer({ DATABASE_URL: refusedUrl, MIGRATE_ON_START: 'false', STATS_ENABLED: 'false' });
    try {
      expect(await readiness(server.url)).toEqual({
        status: 503,
        body: { error: { code: 'not_ready', message: `database unreachable: ECONNREFUSED 127.0.0.1:${refusedPort}` } },
      });
    } finally {
      await stopProcess(server);
    }
    // At start-up the cause becomes one line that also says what to do (test/startup-errors.test.ts).
    for (const [url, cause] of [
      [refusedUrl, `knfn: PostgreSQL at 127.0.0.1:${refusedPort} refused the connection`],
      [wrongRoleUrl, `knfn: role "${role}" does not exist`],
    ] as const) {
      const starting = spawnEntry('runtime/main.ts', { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: url, MIGRATE_ON_START: 'true' });
      expect(await starting.exited).toBe(1);
      expect(starting.output()).toContain(cause);
      expect(starting.output().trim().split('\n')).toHaveLength(1);
      expect(starting.output()).not.toContain('[object Object]');
    }
  });

  it('logs a failed statement by its SQLSTATE and a lost database by its errno, never the SQL or a user\'s text', async () => {
    const { proxy, url } = await startDatabaseProxy(database.url);
    const server = await spawnServer({ DATABASE_URL: url, STATS_ENABLED: 'false' });
    const create = () =>
      fetch(`${server.url}/api/locations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'marker', timezone: 'Europe/Helsinki', description: marker }),
      });
    try {
      // The table is gone (a migration not run yet, or a bug): 503 to the client, logged as an
      // error with its cause.
      await database.query('drop table locations cascade');
      expect((await create()).status).toBe(503);
      await expect.poll(() => server.output()).toMatch(/"level":"error".*42P01 relation \\"locations\\" does not exist/);
      // An outage: 503, logged as a warning with its cause.
      await proxy.stop();
      expect((await create()).status).toBe(503);
      await expect.poll(() => server.output()).toMatch(/"level":"warn".*ECONNREFUSED 127\.0\.0\.1:\d+/);
      const output = server.output();
      expect(output).not.toContain(marker);
      expect(output).not.toMatch(/insert into|Failed query|params:/i);
      expect(output).not.toContain('[object Object]');
    } finally {
      await stopProcess(server);
      await proxy.stop();
    }
  });
});
