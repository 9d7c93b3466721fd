import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { dropKeys, inspector, spawnSharingRedis, startRedisProxy, testKeyPrefix, waitForOutput } from './support/redis.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';

type Server = SpawnedProcess & { url: string };

interface Outcome {
  phase: string;
  kind: string;
  status: number;
  ms: number;
}

const redisTimeoutMs = 150;
/**
 * What an answer may take: the Redis bound, plus the database work and the noise of a shared
 * 2-CPU machine (answers took up to 750 ms there with nothing cut, at a load average of 9).
 * Waiting on the client's own timeouts instead (connect, socket: 1 s) or on TCP's (minutes)
 * would exceed it.
 */
const answerBoundMs = redisTimeoutMs + 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Redis cut under load: two processes sharing it through a proxy', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let look: Redis;
  let servers: Server[] = [];
  const keyPrefix = testKeyPrefix();

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await startRedisProxy();
    proxy = proxied.proxy;
    look = inspector();
    servers = await spawnSharingRedis({
      DATABASE_URL: database.url,
      FUNCTION: 'locations,time,stats',
      REDIS_URL: proxied.url,
      REDIS_KEY_PREFIX: keyPrefix,
      REDIS_TIMEOUT_MS: String(redisTimeoutMs),
      RATE_LIMIT_WRITES: '5/1m',
    });
    await fetch(`${servers[0]?.url}/api/locations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'hq', timezone: 'Asia/Tokyo' }),
    });
  });
  afterAll(async () => {
    await Promise.all(servers.map(stopProcess));
    await proxy?.stop();
    await dropKeys(look, keyPrefix);
    look.disconnect();
    await database?.drop();
  });

  /** Writes, cached reads and statistics from `workers` loops over both processes until `until()` is true. */
  async function load(workers: number, phase: () => string, until: () => boolean): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    const kinds = [
      ['write', 'POST', '/api/locations'],
      ['time', 'GET', '/api/time?location=hq'],
      ['stats', 'GET', '/api/stats?window=15m'],
    ] as const;
    let sequence = 0;
    await Promise.all(
      Array.from({ length: workers }, async (_, worker) => {
        while (!until()) {
          const [kind, method, path] = kinds[sequence++ % kinds.length] ?? kinds[0];
          const server = servers[worker % servers.length] as Server;
          const started = performance.now();
          const response = await fetch(`${server.url}${path}`, {
            method,
            ...(method === 'POST'
              ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: `load-${sequence}-${worker}`, timezone: 'UTC' }) }
              : {}),
          });
          await response.arrayBuffer();
          outcomes.push({ phase: phase(), kind, status: response.status, ms: performance.now() - started });
        }
      }),
    );
    return outcomes;
  }

  it('answers every request without a 5xx and within the bound, and shares the limits again once Redis is back', async () => {
    let phase = 'connected';
    let done = false;
    // Each server's log from the last cut on: it says when it has Redis again.
    const cutAt = new Map<Server, number>();
    const markLogs = () => servers.forEach((server) => cutAt.set(server, server.output().length));
    const reconnected = () =>
      Promise.all(servers.map((server) => waitForOutput(() => server.output().slice(cutAt.get(server)), '"msg":"redis reachable again"', 10_000)));
    const running = load(4, () => phase, () => done);
    await sleep(1500);
    // The open connections stop answering without closing (a partition, a hung server): commands
    // time out until the client gives the connection up, and then new ones are never answered.
    markLogs();
    phase = 'blackholed';
    proxy.setMode('silent');
    await sleep(2500);
    proxy.setMode('forward');
    phase = 'recovering';
    await reconnected();
    await sleep(500);
    // Every connection reset, the port refusing.
    markLogs();
    phase = 'refused';
    await proxy.stop();
    await sleep(2000);
    await proxy.start();
    phase = 'back';
    await reconnected();
    await sleep(500);
    done = true;
    const outcomes = await running;

    for (const name of ['connected', 'blackholed', 'recovering', 'refused', 'back']) {
      const inPhase = outcomes.filter((outcome) => outcome.phase === name);
      expect(inPhase.length, name).toBeGreaterThan(2);
    }
    expect(outcomes.filter((outcome) => outcome.status >= 500)).toEqual([]);
    expect(new Set(outcomes.map((outcome) => outcome.status))).toEqual(new Set([200, 201, 429]));
    const slowest = outcomes.reduce((worst, outcome) => (outcome.ms > worst.ms ? outcome : worst));
    expect(slowest.ms, JSON.stringify(slowest)).toBeLessThan(answerBoundMs);

    // Went on without Redis, said so a few times rather than once per request, and counted it.
    const metrics = await (await fetch(`${servers[0]?.url}/metrics`)).text();
    expect(Number(/redis_failures_total\{use="rate_limit"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/redis_failures_total\{use="cache"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    const warnings = (servers[0]?.output() ?? '').split('\n').filter((line) => line.includes('"level":"warn"') && line.includes('redis'));
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThan(10);

    // Back: one budget for both processes again (a fresh window for this client first).
    await dropKeys(look, `${keyPrefix}rl:`);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const response = await fetch(`${servers[i % 2]?.url}/api/locations`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: `after-${i}`, timezone: 'UTC' }),
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429, 429]);
  });
});
