import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl } from '../test/support/postgres.ts';
import { startDatabaseProxy } from '../test/support/tcp-proxy.ts';
import type { DatabaseHandle } from './database.ts';
import { isDatabaseUnavailable } from './errors.ts';
import { openNeon } from './neon.ts';
import type { DatabaseLog, PostgresSettings } from './settings.ts';
import { startWsBridge } from './ws-bridge.ts';
import type { WsBridge } from './ws-bridge.ts';

const log: DatabaseLog = { debug: () => {}, warn: () => {}, error: () => {} };
const ignoreQueries = { queryFinished: () => {} };

function postgresConfig(url: string, wsProxy: string | undefined): PostgresSettings {
  return {
    kind: 'postgres',
    url,
    wsProxy,
    wsSecure: false,
    poolMax: 4,
    connectTimeoutMs: 2000,
    queryTimeoutMs: 5000,
  };
}

function firstRow(result: unknown): Record<string, unknown> {
  return (result as { rows: Record<string, unknown>[] }).rows[0] ?? {};
}

/** What both transports must do alike: results, concurrent statements, and errors that leave the pool usable. */
async function exercise(database: DatabaseHandle): Promise<void> {
  const sums = await Promise.all(
    Array.from({ length: 20 }, (_, i) => database.db.execute(sql`select ${i}::int + 1 as sum`).then(firstRow)),
  );
  expect(sums.map((row) => row['sum'])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  await expect(database.db.execute(sql`select * from no_such_table`)).rejects.toThrow(/no_such_table/);
  const text = 'x'.repeat(200_000);
  const echoed = firstRow(await database.db.execute(sql`select length(${text}) as length`));
  expect(echoed['length']).toBe(200_000);
  await database.ping(1000);
}

describe('the Neon driver to a plain PostgreSQL', () => {
  it('speaks straight TCP when no wsproxy is configured', async () => {
    const database = await openNeon(postgresConfig(adminUrl, undefined), log, ignoreQueries);
    try {
      await exercise(database);
    } finally {
      await database.close();
    }
  });

  describe('through a wsproxy (DATABASE_WS_PROXY)', () => {
    let bridge: WsBridge;
    beforeAll(async () => {
      const target = new URL(adminUrl);
      bridge = await startWsBridge({ target: { host: target.hostname, port: Number(target.port || 5432) }, log });
    });
    afterAll(() => bridge.close());

    it('sends each statement as one WebSocket frame and gets the same answers', async () => {
      const database = await openNeon(postgresConfig(adminUrl, bridge.proxyAddress), log, ignoreQueries);
      try {
        await exercise(database);
      } finally {
        await database.close();
      }
    });
  });

  it("answers a probe that comes while start-up's connection is being made with that connection, not a second one", async () => {
    const database = await openNeon(postgresConfig(adminUrl, undefined), log, ignoreQueries);
    try {
      await database.ping(1000);
      expect(database.poolStats()).toEqual({ total: 1, idle: 1, waiting: 0 });
    } finally {
      await database.close();
    }
  });

  it('fails statements cleanly while the server is unreachable and recovers after', async () => {
    const { proxy, url } = await startDatabaseProxy(adminUrl);
    const database = await openNeon(postgresConfig(url, undefined), log, ignoreQueries);
    try {
      await database.ping(1000);
      await proxy.stop();
      const failure: unknown = await database.db.execute(sql`select 1`).then(() => 'answered', (error: unknown) => error);
      // Classified as an outage (a 503 for the caller), not as a bug.
      expect(isDatabaseUnavailable(failure)).toBe(true);
      await proxy.start();
      await expect.poll(() => database.ping(1000).then(() => 'up', () => 'down'), { timeout: 5000 }).toBe('up');
    } finally {
      await database.close();
      await proxy.stop();
    }
  });
});
