import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAll, functionBundle } from '../scripts/build.ts';
import { bundleChunks } from '../scripts/warm-compile-cache.ts';
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

  it("has a compile-cache warm-up that loads every chunk, as the image's build runs it", () => {
    const dist = join(outDir, 'dist');
    const chunks = bundleChunks(dist);
    // The function's own bundle and dist/main.js's (every function, `npm start` in the image).
    expect(chunks.some((chunk) => chunk.startsWith(join(dist, 'functions', 'pingpong', 'chunks', 'chunk-')))).toBe(true);
    expect(chunks.some((chunk) => chunk.startsWith(join(dist, 'chunks', 'chunk-')))).toBe(true);
    expect(chunks.filter((chunk) => basename(chunk) === 'main.js' || basename(chunk) === 'migrate.js')).toEqual([]);
    // As the image lays it out (node_modules holds PGlite only) and with only its environment: a
    // chunk that needs anything else to load fails here.
    mkdirSync(join(outDir, 'node_modules'));
    symlinkSync(join(root, 'node_modules', '@electric-sql'), join(outDir, 'node_modules', '@electric-sql'));
    const warmed = spawnSync(process.execPath, ['dist/warm-compile-cache.js'], {
      cwd: outDir,
      env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production', NODE_COMPILE_CACHE: join(outDir, 'compile-cache') },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(warmed.stderr).toBe('');
    expect(warmed.status).toBe(0);
    expect(warmed.stdout).toMatch(new RegExp(`^loaded ${chunks.length} chunks; `));
  });
});
