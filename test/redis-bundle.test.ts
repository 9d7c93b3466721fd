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

  it('connects, limits writes across Redis and invalidates through it', async () => {
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
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForOutput(() => output, '"msg":"listening"', 20_000);
    const url = /"msg":"listening","url":"([^"]+)"/.exec(output)?.[1] ?? '';
    await waitForOutput(() => output, '"msg":"redis connected"');

    const write = (name: string) =>
      fetch(`${url}/api/locations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, timezone: 'UTC' }) });
    const statuses = [(await write('a')).status, (await write('b')).status, (await write('c')).status];
    expect(statuses).toEqual([201, 201, 429]);
    expect(await look.get(`${keyPrefix}rl:locations:127.0.0.1`)).toBe('3');
    expect(await look.exists(`${keyPrefix}tag:location:a`, `${keyPrefix}tag:location:b`)).toBe(2);
    expect(output).not.toContain('"level":"warn"');

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
