import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { loadConfig } from '../runtime/config.ts';
import { startServer } from '../runtime/server.ts';
import type { RunningServer } from '../runtime/server.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { startDatabaseProxy } from './support/tcp-proxy.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';

async function timed(url: string): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now();
  const response = await fetch(url);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // plain-text answers stay strings
  }
  return { status: response.status, body, ms: performance.now() - started };
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('when the database becomes unreachable and comes back', () => {
  let proxy: TcpProxy;
  let database: TestDatabase;
  let server: RunningServer;

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await startDatabaseProxy(database.url);
    proxy = proxied.proxy;
    const config = loadConfig({
      DATABASE_URL: proxied.url,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
      DATABASE_QUERY_TIMEOUT_MS: '2000',
    });
    server = await startServer(config, allFunctions);
  });
  afterAll(async () => {
    await server?.stop();
    await proxy?.stop();
    await database?.drop();
  });

  it('stays live, turns unready, answers 503 quickly, then recovers in the same process', async () => {
    expect((await timed(`${server.url}/pingpong`)).body).toBe('pong 1');

    await proxy?.stop();
    expect((await timed(`${server.url}/health`)).status).toBe(200);
    const notReady = await eventually(() => timed(`${server.url}/health/ready`), (r) => r.status === 503, 5000);
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ error: { code: 'not_ready', message: expect.stringMatching(/^database unreachable/) } });

    const refused = await timed(`${server.url}/pingpong`);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ error: { code: 'database_unavailable', message: 'the database is unreachable; retry shortly' } });
    expect(refused.ms).toBeLessThan(5000);
    expect((await timed(`${server.url}/pings`)).status).toBe(503);

    await proxy.start();
    const ready = await eventually(() => timed(`${server.url}/health/ready`), (r) => r.status === 200);
    expect(ready.status).toBe(200);
    const pong = await eventually(() => timed(`${server.url}/pingpong`), (r) => r.status === 200);
    expect(pong.body).toBe('pong 2');
    expect((await timed(`${server.url}/pings`)).body).toBe(2);
  });
});
