import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { dropKeys, inspector, spawnSharingRedis, testKeyPrefix } from './support/redis.ts';

type Server = SpawnedProcess & { url: string };

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A location write from `localAddress` (127.0.0.1 unless given): Node's client can pick its source address. */
function createLocation(base: string, options: { localAddress?: string; forwardedFor?: string } = {}): Promise<Answer> {
  const body = JSON.stringify({ name: `rl-${Math.random().toString(36).slice(2, 10)}`, timezone: 'Europe/Helsinki' });
  const url = new URL('/api/locations', base);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress: options.localAddress,
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          ...(options.forwardedFor === undefined ? {} : { 'X-Forwarded-For': options.forwardedFor }),
        },
      },
      (incoming) => {
        let text = '';
        incoming.setEncoding('utf8');
        incoming.on('data', (chunk: string) => (text += chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: text }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

describe('write limits shared through Redis by two processes (RATE_LIMIT_WRITES=5/1m)', () => {
  let database: TestDatabase;
  let look: Redis;
  let servers: Server[] = [];
  const keyPrefix = testKeyPrefix();

  beforeAll(async () => {
    database = await createTestDatabase();
    look = inspector();
    servers = await spawnSharingRedis({
      DATABASE_URL: database.url,
      FUNCTION: 'locations',
      REDIS_KEY_PREFIX: keyPrefix,
      RATE_LIMIT_WRITES: '5/1m',
      // 127.0.0.2 plays the gateway: only its X-Forwarded-For names the client.
      TRUSTED_PROXIES: '127.0.0.2',
    });
  });
  afterAll(async () => {
    await Promise.all(servers.map(stopProcess));
    await dropKeys(look, keyPrefix);
    look.disconnect();
    await database?.drop();
  });

  it('lets five of eight writes from one client through across both, refusing the rest with 429, Retry-After and RateLimit', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 8; i++) answers.push(await createLocation((servers[i % 2] as Server).url));
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201, 201, 429, 429, 429]);
    expect(answers.map((answer) => answer.headers['ratelimit-policy'])).toEqual(Array(8).fill('"writes";q=5;w=60'));
    expect(answers.slice(0, 5).map((answer) => /r=(\d+)/.exec(String(answer.headers['ratelimit']))?.[1])).toEqual(['4', '3', '2', '1', '0']);
    for (const refused of answers.slice(5)) {
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.headers['ratelimit']).toBe(`"writes";r=0;t=${retryAfter}`);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'rate_limited' } });
    }
    const stored = await database.query<{ count: string }>('select count(*) from locations');
    expect(Number(stored.rows[0]?.count)).toBe(5);
    expect(Number(await look.get(`${keyPrefix}rl:locations:127.0.0.1`))).toBe(8);
  });

  it('does not give a client a new budget for a forged X-Forwarded-For', async () => {
    const [first, second] = servers as [Server, Server];
    // 127.0.0.1 spent its budget above; naming someone else changes nothing.
    const forged = await createLocation(first.url, { forwardedFor: '203.0.113.50' });
    expect(forged.status).toBe(429);
    // A fresh client that names a different address in each request is still one client.
    const fresh: number[] = [];
    for (let i = 0; i < 7; i++) fresh.push((await createLocation((servers[i % 2] as Server).url, { localAddress: '127.0.0.3', forwardedFor: `203.0.113.${i}` })).status);
    expect(fresh).toEqual([201, 201, 201, 201, 201, 429, 429]);
    expect(await look.exists(`${keyPrefix}rl:locations:203.0.113.0`)).toBe(0);

    // The trusted proxy's header does name the client: each gets its own five.
    const viaProxy = async (client: string, url: string) => (await createLocation(url, { localAddress: '127.0.0.2', forwardedFor: `${client}, 10.0.0.9` })).status;
    const counted: number[] = [];
    for (let i = 0; i < 6; i++) counted.push(await viaProxy('198.51.100.20', (servers[i % 2] as Server).url));
    expect(counted).toEqual([201, 201, 201, 201, 201, 429]);
    expect(await viaProxy('198.51.100.21', second.url)).toBe(201);
  });
});
