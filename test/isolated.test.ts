import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

const projectRoot = new URL('../', import.meta.url).pathname;
const idleMs = 400;

interface Gateway {
  readonly url: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  readonly kill: (signal: NodeJS.Signals) => void;
}

interface LogLine {
  msg: string;
  function?: string;
  service?: string;
  revision?: string;
  pid?: number;
  url?: string;
  functions?: string[];
}

/** `npm start -- --isolated` as a user runs it. */
function spawnIsolated(env: Record<string, string>): Omit<Gateway, 'url'> & { stdout: NodeJS.ReadableStream } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts', '--isolated'], {
    cwd: projectRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { output: () => output, exited, kill: (signal) => child.kill(signal), stdout: child.stdout };
}

/** Resolves once the gateway itself (not one of its functions) logs that it listens. */
function listening(spawned: ReturnType<typeof spawnIsolated>): Promise<Gateway> {
  return new Promise<Gateway>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${spawned.output()}`)), 45_000);
    spawned.stdout.on('data', () => {
      const match = /"msg":"listening","url":"([^"]+)","mode":"isolated"/.exec(spawned.output());
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ ...spawned, url: match[1] });
      }
    });
    void spawned.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${spawned.output()}`));
    });
  });
}

function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

const gatewayEvents = (gateway: Gateway, msg: string, name: string) =>
  logLines(gateway.output()).filter((line) => line.msg === msg && line.function === name && line.service === undefined);

/** Pids of processes whose command line contains `path` (pgrep exits 1 when there are none). */
function runningBundles(path: string): number[] {
  const found = spawnSync('pgrep', ['-f', path], { encoding: 'utf8' });
  return found.stdout.split('\n').filter(Boolean).map(Number);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * One gateway for the describe block it is called in: a fresh database and DATA_DIR, started
 * before the block's tests and removed after them. Register it before the block's own hooks.
 */
function gatewayPerBlock(env: Record<string, string>): { gateway: () => Gateway; dataDir: string } {
  const dataDir = `.data/test-isolated-${randomBytes(4).toString('hex')}`;
  let database: TestDatabase | undefined;
  let gateway: Gateway | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    gateway = await listening(spawnIsolated({ DATABASE_URL: database.url, DATA_DIR: dataDir, ...env }));
  });
  afterAll(async () => {
    if (gateway) {
      gateway.kill('SIGKILL');
      await gateway.exited;
    }
    await database?.drop();
    rmSync(`${projectRoot}${dataDir}`, { recursive: true, force: true });
  });
  return {
    dataDir,
    gateway: () => {
      if (!gateway) throw new Error('the gateway has not started');
      return gateway;
    },
  };
}

describe('npm start -- --isolated', () => {
  let gateway: Gateway;
  const setup = gatewayPerBlock({ ISOLATED_IDLE_MS: String(idleMs) });
  beforeAll(() => {
    gateway = setup.gateway();
  });

  it('cold-starts pingpong on its first request, serves warm, scales to zero when idle and cold-starts again', async () => {
    const first = await fetch(`${gateway.url}/pingpong`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('pong 1');
    expect(first.headers.get('x-knfn-cold-start')).toMatch(/^\d+$/);
    const [started] = gatewayEvents(gateway, 'cold start', 'pingpong');
    const pid = started?.pid ?? -1;

    const second = await fetch(`${gateway.url}/pingpong`);
    const warmAt = Date.now();
    expect(await second.text()).toBe('pong 2');
    expect(second.headers.get('x-knfn-cold-start')).toBeNull();
    expect(isAlive(pid)).toBe(true);

    await waitFor(() => gatewayEvents(gateway, 'scaled to zero', 'pingpong').length === 1, 5000, 'scale to zero');
    expect(Date.now() - warmAt).toBeGreaterThanOrEqual(idleMs - 50);
    await waitFor(() => !isAlive(pid), 2000, `process ${pid} to be gone`);

    const third = await fetch(`${gateway.url}/pingpong`);
    expect(await third.text()).toBe('pong 3');
    expect(third.headers.get('x-knfn-cold-start')).toMatch(/^\d+$/);
    const starts = gatewayEvents(gateway, 'cold start', 'pingpong');
    expect(starts).toHaveLength(2);
    expect(starts[1]?.pid).not.toBe(pid);
  });

  it('starts exactly one process for concurrent first requests, each getting a unique number', async () => {
    await waitFor(() => gatewayEvents(gateway, 'scaled to zero', 'pingpong').length === 2, 5000, 'scale to zero');
    const responses = await Promise.all(Array.from({ length: 12 }, () => fetch(`${gateway.url}/pingpong`)));
    const bodies = await Promise.all(responses.map((response) => response.text()));
    expect(responses.map((response) => response.status)).toEqual(Array(12).fill(200));
    expect(bodies.map((body) => Number(body.replace('pong ', ''))).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, index) => index + 4),
    );
    expect(gatewayEvents(gateway, 'cold start', 'pingpong')).toHaveLength(3);
    expect(responses.some((response) => response.headers.get('x-knfn-cold-start') !== null)).toBe(true);
  });

  it('runs each function with the container env contract: FUNCTION, K_SERVICE, K_REVISION, its own PORT', () => {
    const gatewayPort = new URL(gateway.url).port;
    const childListening = logLines(gateway.output()).filter((line) => line.msg === 'listening' && line.service === 'pingpong');
    expect(childListening.length).toBe(3);
    for (const line of childListening) {
      expect(line.revision).toBe('pingpong-00001');
      expect(line.functions).toEqual(['pingpong']);
      expect(new URL(line.url ?? '').port).not.toBe(gatewayPort);
    }
    // The gateway migrated once; no function process migrates on its cold start.
    const migrations = logLines(gateway.output()).filter((line) => line.msg === 'migrations applied');
    expect(migrations.map((line) => line.service)).toEqual([undefined]);
  });

  it('routes save -> K_SINK -> message-worker -> view and log-output -> PINGS_URL through the gateway', async () => {
    const saved = await fetch(`${gateway.url}/save`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: 'hello from isolated processes' }),
    });
    expect(saved.status).toBe(202);
    const { id } = (await saved.json()) as { id: string };
    const view = await fetch(`${gateway.url}/view`, { headers: { Accept: 'application/json' } });
    const page = (await view.json()) as { items: Array<{ eventId: string; data: string }> };
    expect(page.items.map((item) => [item.eventId, item.data])).toEqual([[id, 'hello from isolated processes']]);

    const logOutput = await fetch(`${gateway.url}/log-output`);
    expect(await logOutput.text()).toMatch(/\nPing \/ Pongs: 15$/);
    for (const name of ['save', 'message-worker', 'message-board', 'log-output', 'pings']) {
      expect(gatewayEvents(gateway, 'cold start', name).length, name).toBeGreaterThanOrEqual(1);
    }
  });

  it('answers an unknown path with 404 JSON and its own health without starting anything', async () => {
    const missing = await fetch(`${gateway.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'not_found', message: 'no route for GET /nope' } });
    const health = await fetch(`${gateway.url}/health/ready`);
    expect(await health.json()).toEqual({ status: 'ready' });
  });

  it('replaces a function process that died: the next request cold-starts a new one', async () => {
    expect((await fetch(`${gateway.url}/api/time`)).status).toBe(200);
    const [crashed] = gatewayEvents(gateway, 'cold start', 'time');
    process.kill(crashed?.pid ?? -1, 'SIGKILL');
    await waitFor(() => gatewayEvents(gateway, 'function process exited unexpectedly', 'time').length === 1, 5000, 'the exit');

    const next = await fetch(`${gateway.url}/api/time`);
    expect(next.status).toBe(200);
    expect(next.headers.get('x-knfn-cold-start')).toMatch(/^\d+$/);
    expect(gatewayEvents(gateway, 'cold start', 'time').map((line) => line.pid === crashed?.pid)).toEqual([true, false]);
  });

  it('stops every function process and exits 0 on SIGTERM', async () => {
    const warm = await fetch(`${gateway.url}/pings`);
    expect(warm.status).toBe(200);
    const pids = logLines(gateway.output())
      .filter((line) => line.msg === 'cold start' && line.service === undefined)
      .map((line) => line.pid ?? -1);
    expect(pids.some(isAlive)).toBe(true);

    gateway.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
  });
});

describe('npm start -- --isolated refuses to start', () => {
  it('without DATABASE_URL, in one line saying so', async () => {
    const gateway = spawnIsolated({});
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toMatch(/^knfn: --isolated needs DATABASE_URL .*\n$/);
  });

  it('with a bad ISOLATED_IDLE_MS, naming the variable', async () => {
    const gateway = spawnIsolated({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', ISOLATED_IDLE_MS: 'soon' });
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toContain('ISOLATED_IDLE_MS');
  });
});

describe('npm start -- --isolated when a function cannot start in time', () => {
  let gateway: Gateway;
  // No Node process answers within 1 ms, so every cold start times out.
  const setup = gatewayPerBlock({ ISOLATED_START_TIMEOUT_MS: '1' });
  beforeAll(() => {
    gateway = setup.gateway();
  });

  it('answers 503 cold_start_failed with Retry-After, leaves no process behind, and tries afresh next time', async () => {
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      const response = await fetch(`${gateway.url}/pingpong`);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('cold_start_failed');
      expect(body.error.message).toMatch(/pingpong/);
    }
    await waitFor(() => gatewayEvents(gateway, 'cold start failed', 'pingpong').length === 2, 5000, 'two failed cold starts');
    // Each timed-out process was killed: none runs this gateway's pingpong bundle any more.
    expect(runningBundles(`${setup.dataDir}/isolated/dist/functions/pingpong/`)).toEqual([]);
  });
});
