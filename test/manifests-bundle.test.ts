import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAll, functionBundle } from '../scripts/build.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

const root = new URL('../', import.meta.url).pathname;

/**
 * The container's view of a function: its esbuild bundle, run outside the project (no
 * node_modules, no tsx) with only the environment its Knative Service gives it.
 */
describe('the pingpong bundle', () => {
  let outDir: string;
  let database: TestDatabase;
  let stop: () => void = () => undefined;
  let output = '';

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'knfn-dist-'));
    [database] = await Promise.all([createTestDatabase(), buildAll(['pingpong'], join(outDir, 'dist'))]);
  });

  afterAll(async () => {
    stop();
    await database?.drop();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('holds only its own function', () => {
    expect(existsSync(join(outDir, functionBundle('pingpong')))).toBe(true);
    expect(existsSync(join(outDir, functionBundle('pings')))).toBe(false);
  });

  it('starts with only its env and answers /pingpong from the database', async () => {
    // Without syntax detection, as a check that dist/ declares its files ES modules: the image has
    // no package.json above dist/, and detecting would parse every file twice.
    const child = spawn(process.execPath, ['--no-experimental-detect-module', functionBundle('pingpong')], {
      cwd: outDir,
      env: {
        FUNCTION: 'pingpong',
        DATABASE_URL: database.url,
        MIGRATE_ON_START: 'true',
        MIGRATIONS_DIR: join(root, 'migrations'),
        PORT: '0',
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stop = () => child.kill('SIGTERM');
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bundle did not start:\n${output}`)), 20_000);
      child.stdout.on('data', () => {
        const match = /"msg":"listening","url":"([^"]+)"/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`bundle exited with ${code}:\n${output}`));
      });
    });

    const first = await fetch(`${url}/pingpong`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('pong 1');
    expect(await (await fetch(`${url}/pingpong`)).text()).toBe('pong 2');
    // Only its own routes: another function's path is not served by this bundle.
    expect((await fetch(`${url}/pings`)).status).toBe(404);
    const stored = await database.query<{ count: string }>('select count::text from ping_count');
    expect(stored.rows[0]?.count).toBe('2');

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
