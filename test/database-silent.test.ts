import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pongNumber, sleep } from './support/load-client.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnServer, stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';
import { startDatabaseProxy } from './support/tcp-proxy.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';

const connectTimeoutMs = 1000;
const queryTimeoutMs = 2000;
/** What the runtime promises: connect + query timeout; the margin covers a loaded test machine. */
const boundMs = connectTimeoutMs + queryTimeoutMs;
const marginMs = 500;
const paths = ['/pingpong', '/pings', '/api/locations', '/view', '/health/ready'] as const;

interface Answer {
  path: string;
  status: number | undefined;
  retryAfter: string | null;
  body: string;
  ms: number;
}

/** One request with a deadline far past the bound, so a hang shows as status undefined, not a stuck test. */
async function ask(base: string, path: string): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(boundMs + 10_000) });
    const body = await response.text();
    return { path, status: response.status, retryAfter: response.headers.get('retry-after'), body, ms: performance.now() - started };
  } catch {
    return { path, status: undefined, retryAfter: null, body: '', ms: performance.now() - started };
  }
}

/** `workers` clients, each cycling through every path, for `ms`. */
async function load(base: string, workers: number, ms: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = worker; Date.now() < until; i++) answers.push(await ask(base, paths[i % paths.length] as string));
    }),
  );
  return answers;
}

/** Every answer a JSON 503 with Retry-After, within the bound; never a hang. */
function expectBoundedUnavailable(answers: Answer[]): void {
  expect(answers.length).toBeGreaterThan(paths.length * 5);
  for (const path of paths) expect(answers.some((answer) => answer.path === path), path).toBe(true);
  const wrong = answers.filter((answer) => answer.status !== 503 || answer.retryAfter === null);
  expect(wrong.slice(0, 3)).toEqual([]);
  for (const answer of answers) {
    const body = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } };
    expect(body.error?.code).toBe(answer.path === '/health/ready' ? 'not_ready' : 'database_unavailable');
  }
  expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(boundMs + marginMs);
}

async function until(probe: () => Promise<Answer>, accept: (answer: Answer) => boolean, timeoutMs = 15_000): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (accept(answer) || Date.now() > deadline) return answer;
    await sleep(200);
  }
}

/** After the database answers again: every path 200, readiness first, in the same process. */
async function expectRecovered(base: string): Promise<number[]> {
  expect((await until(() => ask(base, '/health/ready'), (answer) => answer.status === 200)).status).toBe(200);
  const answers = await Promise.all(paths.map((path) => until(() => ask(base, path), (answer) => answer.status === 200)));
  expect(answers.map((answer) => `${answer.path} ${answer.status}`)).toEqual(paths.map((path) => `${path} 200`));
  return answers.filter((answer) => answer.path === '/pingpong').map((answer) => pongNumber(answer.body) ?? -1);
}

describe('a database that accepts connections and then never answers', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let proxiedUrl: string;
  let server: (SpawnedProcess & { url: string }) | undefined;
  const pongs: number[] = [];
  const figures: string[] = [];

  const startServer = (env: Record<string, string> = {}) =>
    spawnServer({
      DATABASE_URL: proxiedUrl,
      DATABASE_CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
      DATABASE_QUERY_TIMEOUT_MS: String(queryTimeoutMs),
      DATABASE_READY_TIMEOUT_MS: '500',
      STATS_ENABLED: 'false',
      ...env,
    });
  const stopServer = async () => {
    await stopProcess(server);
    server = undefined;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await startDatabaseProxy(database.url);
    proxy = proxied.proxy;
    proxiedUrl = proxied.url;
  });
  afterAll(async () => {
    await stopServer();
    await proxy?.stop();
    await database?.drop();
    console.log(`database-silent: ${figures.join('; ')}`);
  });

  it('answers every request of a warm pool 503 within connect + query timeout, then recovers without a restart', async () => {
    server = await startServer();
    pongs.push(...(await expectRecovered(server.url)));

    proxy.setMode('silent');
    const answers = await load(server.url, 20, 2 * boundMs);
    expectBoundedUnavailable(answers);
    figures.push(`warm pool: ${answers.length} answers, max ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms`);
    expect(server.child.exitCode).toBeNull();

    proxy.setMode('forward');
    pongs.push(...(await expectRecovered(server.url)));
  });

  it('does the same from a cold start with the database already silent', async () => {
    await stopServer();
    proxy.setMode('silent');
    // Migrations were applied by the first process; a cold instance serving traffic does not run them.
    server = await startServer({ MIGRATE_ON_START: 'false' });
    const answers = await load(server.url, 20, 2 * boundMs);
    expectBoundedUnavailable(answers);
    figures.push(`cold pool: ${answers.length} answers, max ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms`);

    proxy.setMode('forward');
    pongs.push(...(await expectRecovered(server.url)));
    // Nothing the server logged carries a raw event object.
    expect(server.output()).not.toContain('[object Object]');
  });

  it('never hands out a number twice, nor one beyond what was committed', async () => {
    const checker = new pg.Client({ connectionString: database.url });
    checker.on('error', () => undefined);
    await checker.connect();
    const { rows } = await checker.query<{ count: string }>('select count from ping_count where id = 1');
    await checker.end();
    expect(pongs.length).toBeGreaterThan(1);
    expect(pongs.every((value) => value > 0)).toBe(true);
    expect(new Set(pongs).size).toBe(pongs.length);
    expect(Math.max(...pongs)).toBeLessThanOrEqual(Number(rows[0]?.count));
  });
});

describe('a slow database that still answers', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: (SpawnedProcess & { url: string }) | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await startDatabaseProxy(database.url);
    proxy = proxied.proxy;
    server = await spawnServer({
      DATABASE_URL: proxied.url,
      DATABASE_CONNECT_TIMEOUT_MS: '5000',
      DATABASE_QUERY_TIMEOUT_MS: '5000',
      DATABASE_READY_TIMEOUT_MS: '3000',
      STATS_ENABLED: 'false',
    });
  });
  afterAll(async () => {
    await stopProcess(server);
    await proxy?.stop();
    await database?.drop();
  });

  it('stays ready while every answer takes 1.5 s, within DATABASE_READY_TIMEOUT_MS', async () => {
    const base = server?.url ?? '';
    expect((await ask(base, '/health/ready')).status).toBe(200);
    proxy.setLatency(1500);
    // Probes as Knative sends them at start-up (one after another, overlapping), with traffic beside.
    const probes = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        await sleep(i * 400);
        return ask(base, i % 2 === 0 ? '/health/ready' : '/pingpong');
      }),
    );
    expect(probes.map((answer) => `${answer.path} ${answer.status}`)).toEqual(
      probes.map((answer) => `${answer.path} 200`),
    );
    // The latency was real (a probe may share an earlier probe's ping and answer sooner).
    expect(Math.max(...probes.map((answer) => answer.ms))).toBeGreaterThan(1400);
  });
});
