import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { buildTestApp, postgresDatabase } from './support/app.ts';
import type { TestApp } from './support/app.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

/** What any request could have changed: the tables users read. */
async function snapshot(database: TestDatabase): Promise<Record<string, unknown>> {
  const count = async (table: string) => (await database.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]?.n;
  const pongs = (await database.query<{ count: string }>('select count from ping_count')).rows[0]?.count ?? '0';
  return { messages: await count('messages'), locations: await count('locations'), pongs };
}

describe("every function's canary probe (the load test's request)", () => {
  let database: TestDatabase;
  let test: TestApp;
  let server: ServerType;
  let url = '';
  beforeAll(async () => {
    database = await createTestDatabase();
    test = await buildTestApp([...allFunctions], postgresDatabase(database.url));
    // Served for real, so log-output's probe reaches pings over HTTP as in the cluster.
    await new Promise<void>((resolve) => {
      server = serve({ fetch: (request, env) => test.app.fetch(request, { ...env, pingsUrl: `${url}/pings` }), port: 0, hostname: '127.0.0.1' }, () => resolve());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.close();
    await test?.close();
    await database?.drop();
  });

  it('is answered without a 5xx and changes nothing, but for the pong it is declared to take', async () => {
    for (const definition of allFunctions) {
      const { probe } = definition;
      expect(probe, definition.name).toBeDefined();
      if (probe === undefined) continue;
      const before = await snapshot(database);
      const init: RequestInit = probe.body === undefined ? { method: probe.method } : { method: probe.method, body: probe.body, headers: { 'content-type': 'application/json' } };
      const answer = await fetch(`${url}${probe.path}`, init);
      await answer.arrayBuffer();
      expect(answer.status, `${definition.name} ${probe.method} ${probe.path}`).toBeLessThan(500);
      const after = await snapshot(database);
      const expected = definition.name === 'pingpong' ? { ...before, pongs: String(Number(before['pongs']) + 1) } : before;
      expect(after, definition.name).toEqual(expected);
    }
  });
});
