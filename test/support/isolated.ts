import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import { createTestDatabase } from './postgres.ts';
import type { TestDatabase } from './postgres.ts';

const projectRoot = new URL('../../', import.meta.url).pathname;

export interface Gateway {
  readonly url: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  readonly kill: (signal: NodeJS.Signals) => void;
}

export interface LogLine {
  msg: string;
  function?: string;
  service?: string;
  revision?: string;
  pid?: number;
  url?: string;
  functions?: string[] | Record<string, string>;
  gateway?: string;
}

/** `npm start -- --isolated` as a user runs it. */
export function spawnIsolated(env: Record<string, string>): Omit<Gateway, 'url'> & { stdout: NodeJS.ReadableStream } {
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
export function listening(spawned: ReturnType<typeof spawnIsolated>): Promise<Gateway> {
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

export function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

export const gatewayEvents = (gateway: Gateway, msg: string, name: string) =>
  logLines(gateway.output()).filter((line) => line.msg === msg && line.function === name && line.service === undefined);

/** Pids of processes whose command line contains `path` (pgrep exits 1 when there are none). */
export function runningBundles(path: string): number[] {
  const found = spawnSync('pgrep', ['-f', path], { encoding: 'utf8' });
  return found.stdout.split('\n').filter(Boolean).map(Number);
}

export function isAlive(pid: number): boolean {
  // kill(0, ...) and kill(-1, ...) reach whole groups or every process: only a real pid is asked.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
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
export function gatewayPerBlock(env: Record<string, string>): { gateway: () => Gateway; database: () => TestDatabase; dataDir: string } {
  const dataDir = `.data/test-isolated-${randomBytes(4).toString('hex')}`;
  let database: TestDatabase | undefined;
  let gateway: Gateway | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    gateway = await listening(spawnIsolated({ DATABASE_URL: database.url, DATA_DIR: dataDir, ...env }));
  });
  afterAll(async () => {
    if (gateway) {
      // SIGTERM, so the runner stops its function processes and nginx; SIGKILL only if it hangs.
      gateway.kill('SIGTERM');
      const timer = setTimeout(() => gateway?.kill('SIGKILL'), 15_000);
      await gateway.exited;
      clearTimeout(timer);
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
    database: () => {
      if (!database) throw new Error('the database has not been created');
      return database;
    },
  };
}


/**
 * What the public gateway must never route (the runtime's endpoints, the worker's event path, path
 * tricks that normalise to them, anything undeclared): each a JSON 404 in the one error shape.
 */
export async function expectOnlyPublicRoutes(url: string): Promise<void> {
  const hidden = ['/metrics', '/health', '/health/ready', '/health/liveness', '/_events/message', '/nope', '/view/../metrics', '/pingpong/%2e%2e/metrics'];
  for (const path of hidden) {
    const method = path === '/_events/message' ? 'POST' : 'GET';
    const response = await fetch(`${url}${path}`, { method, body: method === 'POST' ? '{}' : null });
    expect(response.status, path).toBe(404);
    expect(response.headers.get('content-type'), path).toMatch(/^application\/json/);
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code, path).toBe('not_found');
  }
  const nope = await fetch(`${url}/nope`);
  expect(await nope.json()).toEqual({ error: { code: 'not_found', message: 'no route for GET /nope' } });
}
