import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { dropKeys, inspector, spawnSharingRedis, testKeyPrefix } from './support/redis.ts';
import { startDatabaseProxy } from './support/tcp-proxy.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';

type Server = SpawnedProcess & { url: string };

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** `/api/time?location=` as [status, time zone or error code]. */
async function zoneOf(server: Server, name: string): Promise<[number, unknown]> {
  const { status, body } = await call(server.url, 'GET', `/api/time?location=${name}`);
  return [status, status === 200 ? body['timezone'] : (body['error'] as { code: string }).code];
}

describe('the read-through cache shared by two processes through Redis', () => {
  let database: TestDatabase;
  let databaseProxy: TcpProxy;
  let look: Redis;
  let servers: Server[] = [];
  const keyPrefix = testKeyPrefix();

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await startDatabaseProxy(database.url);
    databaseProxy = proxied.proxy;
    look = inspector();
    servers = await spawnSharingRedis({
      DATABASE_URL: proxied.url,
      FUNCTION: 'locations,time,stats',
      REDIS_KEY_PREFIX: keyPrefix,
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      DATABASE_QUERY_TIMEOUT_MS: '1000',
    });
  });
  afterAll(async () => {
    await Promise.all(servers.map(stopProcess));
    await databaseProxy?.stop();
    await dropKeys(look, keyPrefix);
    look.disconnect();
    await database?.drop();
  });

  it('shows every change of a location to /api/time on the other process at once', async () => {
    const [reader, writer] = servers as [Server, Server];
    // Unknown names are cached too; creating one must make it known at once.
    expect(await zoneOf(reader, 'hq')).toEqual([404, 'location_not_found']);
    expect((await call(writer.url, 'POST', '/api/locations', { name: 'hq', timezone: 'Asia/Tokyo' })).status).toBe(201);
    expect(await zoneOf(reader, 'hq')).toEqual([200, 'Asia/Tokyo']);
    expect(await zoneOf(writer, 'hq')).toEqual([200, 'Asia/Tokyo']);

    expect((await call(writer.url, 'PUT', '/api/locations/hq', { timezone: 'Europe/Helsinki' })).status).toBe(200);
    expect(await zoneOf(reader, 'hq')).toEqual([200, 'Europe/Helsinki']);
    expect((await call(reader.url, 'PATCH', '/api/locations/hq', { timezone: 'America/New_York' })).status).toBe(200);
    expect(await zoneOf(writer, 'hq')).toEqual([200, 'America/New_York']);
    expect((await call(writer.url, 'DELETE', '/api/locations/hq')).status).toBe(204);
    expect(await zoneOf(reader, 'hq')).toEqual([404, 'location_not_found']);
    expect((await call(writer.url, 'POST', '/api/locations', { name: 'hq', timezone: 'Australia/Sydney' })).status).toBe(201);
    expect(await zoneOf(reader, 'hq')).toEqual([200, 'Australia/Sydney']);
  });

  it('answers cached reads from Redis while the database is down, and only those', async () => {
    const [reader, writer] = servers as [Server, Server];
    expect((await call(writer.url, 'POST', '/api/locations', { name: 'office', timezone: 'Asia/Kolkata' })).status).toBe(201);
    expect(await zoneOf(writer, 'office')).toEqual([200, 'Asia/Kolkata']);
    const stats = await call(writer.url, 'GET', '/api/stats?window=15m');
    expect(stats.status).toBe(200);
    expect(await look.exists(`${keyPrefix}cache:time:location:office#-`, `${keyPrefix}cache:stats:["15m","",""]`)).toBe(1);

    await databaseProxy.stop();
    try {
      // Stored by the other process, read here without the database.
      expect(await zoneOf(reader, 'office')).toEqual([200, 'Asia/Kolkata']);
      const cachedStats = await call(reader.url, 'GET', '/api/stats?window=15m');
      expect(cachedStats.status).toBe(200);
      expect(cachedStats.body['to']).toBe(stats.body['to']);
      // What is not cached needs the database.
      expect((await call(reader.url, 'GET', '/api/locations/office')).status).toBe(503);
    } finally {
      await databaseProxy.start();
    }
  });
});
