import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InFlightReport } from '../runtime/redis/in-flight.ts';
import { stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { dropKeys, inspector, spawnSharingRedis, testKeyPrefix } from './support/redis.ts';

type Server = SpawnedProcess & { url: string };

/**
 * A slow request: a location write whose body arrives only on `finish()`; until then the server
 * is answering it. Resolves with the status line once finished.
 */
async function slowWrite(base: string, name: string): Promise<{ finish(): Promise<string>; socket: Socket }> {
  const url = new URL(base);
  const body = JSON.stringify({ name, timezone: 'Asia/Tokyo' });
  const socket = connect({ host: url.hostname, port: Number(url.port) });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (answer += chunk));
  socket.write(`POST /api/locations HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`);
  return {
    socket,
    async finish() {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(body.slice(5));
      await closed;
      return answer.split('\r\n', 1)[0] ?? '';
    },
  };
}

async function inFlightOf(server: Server): Promise<InFlightReport> {
  const response = await fetch(`${server.url}/api/stats?window=15m`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { inFlight: InFlightReport }).inFlight;
}

/** Polls until `check` holds: counts are published every second, and a dead instance's last for 5 s. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    value = await read();
  }
  return value;
}

describe('requests in flight across two processes through Redis', () => {
  let database: TestDatabase;
  let look: Redis;
  let servers: Server[] = [];
  const keyPrefix = testKeyPrefix();

  beforeAll(async () => {
    database = await createTestDatabase();
    look = inspector();
    servers = await spawnSharingRedis({ DATABASE_URL: database.url, FUNCTION: 'locations,stats', REDIS_KEY_PREFIX: keyPrefix });
  });
  afterAll(async () => {
    await Promise.all(servers.map(stopProcess));
    await dropKeys(look, keyPrefix);
    look.disconnect();
    await database?.drop();
  });

  it('adds up both processes, forgets a killed one within seconds, and is back to zero when the requests end', async () => {
    const [first, second] = servers as [Server, Server];
    const onFirst = await Promise.all([0, 1, 2].map((i) => slowWrite(first.url, `slow-a${i}`)));
    const onSecond = await Promise.all([0, 1, 2, 3, 4].map((i) => slowWrite(second.url, `slow-b${i}`)));

    const both = await eventually(() => inFlightOf(first), (report) => report.functions?.['locations'] === 8, 5000);
    // The stats request itself is in flight on the first process while it reads.
    expect(both).toEqual({ scope: 'all-instances', instances: 2, functions: { locations: 8, stats: 1 } });
    // Each process publishes its own counts once a second: the other's view catches up within that.
    const fromSecond = await eventually(() => inFlightOf(second), (report) => report.functions?.['locations'] === 8, 5000);
    expect(fromSecond.functions).toEqual({ locations: 8, stats: 1 });
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(metrics).toContain('http_requests_in_flight{function="locations"} 3');
    const dashboard = await (await fetch(`${first.url}/stats`)).text();
    expect(dashboard).toMatch(/id="in-flight" data-scope="all-instances">Requests in flight now, across 2 instances: <span data-function="locations">locations 8<\/span>, <span data-function="stats">stats 1<\/span>\./);

    // Killed mid-request: no goodbye, so its entry lives until it expires (5 s).
    second.child.kill('SIGKILL');
    await second.exited;
    for (const held of onSecond) held.socket.destroy();
    const killedAt = Date.now();
    const alone = await eventually(() => inFlightOf(first), (report) => report.instances === 1, 8000);
    expect(alone).toEqual({ scope: 'all-instances', instances: 1, functions: { locations: 3, stats: 1 } });
    expect(Date.now() - killedAt).toBeLessThan(7000);

    expect(await Promise.all(onFirst.map((held) => held.finish()))).toEqual(Array(3).fill('HTTP/1.1 201 Created'));
    expect(await inFlightOf(first)).toEqual({ scope: 'all-instances', instances: 1, functions: { locations: 0, stats: 1 } });
  });
});
