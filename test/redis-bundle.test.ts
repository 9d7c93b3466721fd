import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAll, functionBundle } from '../scripts/build.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { dropKeys, inspector, redisUrl, testKeyPrefix, waitForOutput } from './support/redis.ts';

const root = new URL('../', import.meta.url).pathname;

/**
 * The Redis client and the limiter are loaded on demand (dynamic imports of CommonJS packages),
 * which esbuild bundles differently from how Node loads them under tsx: only the container's
 * bundle shows that they load and work.
 */
describe('the locations bundle with Redis', () => {
  let outDir: string;
  let database: TestDatabase;
  let look: Redis;
  const keyPrefix = testKeyPrefix();
  let stop: () => void = () => undefined;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'knfn-dist-'));
    look = inspector();
    [database] = await Promise.all([createTestDatabase(), buildAll(['locations'], join(outDir, 'dist'))]);
  });
  afterAll(async () => {
    stop();
    await dropKeys(look, keyPrefix);
    look.disconnect();
    await database?.drop();
    rmSync(outDir, { recursive: true, force: true });
  });

  /** The locations bundle as its container runs it, with Redis; resolves once it listens. */
  async function startLocations(): Promise<{ url: string; output: () => string; exited: Promise<number | null>; terminate: () => void }> {
    let output = '';
    const child = spawn(process.execPath, [functionBundle('locations')], {
      cwd: outDir,
      env: {
        FUNCTION: 'locations',
        DATABASE_URL: database.url,
        MIGRATE_ON_START: 'true',
        MIGRATIONS_DIR: join(root, 'migrations'),
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: keyPrefix,
        RATE_LIMIT_WRITES: '2/1m',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stop = () => child.kill('SIGTERM');
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForOutput(() => output, '"msg":"listening"', 20_000);
    const url = /"msg":"listening","url":"([^"]+)"/.exec(output)?.[1] ?? '';
    return { url, output: () => output, exited, terminate: stop };
  }

  it('connects, limits writes across Redis and invalidates through it', async () => {
    const { url, output, exited, terminate } = await startLocations();
    await waitForOutput(output, '"msg":"redis connected"');

    const write = (name: string) =>
      fetch(`${url}/api/locations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, timezone: 'UTC' }) });
    const statuses = [(await write('a')).status, (await write('b')).status, (await write('c')).status];
    expect(statuses).toEqual([201, 201, 429]);
    expect(await look.get(`${keyPrefix}rl:locations:127.0.0.1`)).toBe('3');
    expect(await look.exists(`${keyPrefix}tag:location:a`, `${keyPrefix}tag:location:b`)).toBe(2);
    expect(output()).not.toContain('"level":"warn"');

    terminate();
    expect(await exited).toBe(0);
  });

  // In the cluster the queue-proxy's readiness probes get a pod's first answers, and the requests
  // that scaled it from zero follow at once: loading the Redis client then would hold them up.
  it('loads the Redis client after a user request is answered, not after the readiness probes', async () => {
    const { url, output, exited, terminate } = await startLocations();
    for (let probe = 0; probe < 5; probe += 1) expect((await fetch(`${url}/health/ready`)).status).toBe(200);
    // Loading and connecting takes tens of ms; the runtime's own deadline for it is 1 s after listening.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(output()).not.toContain('"msg":"redis connected"');

    expect((await fetch(`${url}/api/locations`)).status).toBe(200);
    await waitForOutput(output, '"msg":"redis connected"');
    const lines = output().split('\n');
    const answered = lines.findIndex((line) => line.includes('"msg":"request"') && line.includes('"path":"/api/locations"'));
    expect(answered).toBeGreaterThan(-1);
    expect(lines.findIndex((line) => line.includes('"msg":"redis connected"'))).toBeGreaterThan(answered);

    terminate();
    expect(await exited).toBe(0);
  });
});
