import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnEntry, spawnServer } from './support/process.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

describe('the server process', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  it('refuses to start on a bad PORT, naming it', async () => {
    const started = spawnEntry('runtime/main.ts', { PORT: 'http' });
    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(/invalid configuration:\n\s+- PORT: /);
  });

  it('refuses to start on a bad DATABASE_URL, naming it without echoing secrets', async () => {
    const started = spawnEntry('runtime/main.ts', { DATABASE_URL: 'mysql://root:topsecret@db/app' });
    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(/- DATABASE_URL: must be a postgres:\/\//);
    expect(started.output()).not.toContain('topsecret');
  });

  it('refuses an unknown FUNCTION, listing the known ones', async () => {
    const started = spawnEntry('runtime/main.ts', { FUNCTION: 'nosuch' });
    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(/FUNCTION: unknown function "nosuch"; known: dead-letters, locations, log-output, message-board, /);
  });

  it('serves only the named function with FUNCTION=pingpong, and the runtime endpoints', async () => {
    const server = await spawnServer({ FUNCTION: 'pingpong', DATABASE_URL: database.url, MIGRATE_ON_START: 'true' });
    try {
      expect(await (await fetch(`${server.url}/pingpong`)).text()).toMatch(/^pong \d+$/);
      const other = await fetch(`${server.url}/pings`);
      expect(other.status).toBe(404);
      expect(await other.json()).toMatchObject({ error: { code: 'not_found' } });
      expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
      expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('function="pingpong"');
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
    expect(server.output()).toMatch(/"level":"info","msg":"listening".*"functions":\["pingpong"\]/);
  });

  it('wires log-output to its own pings route under npm start', async () => {
    const server = await spawnServer({ DATABASE_URL: database.url });
    try {
      const pong = Number((await (await fetch(`${server.url}/pingpong`)).text()).replace('pong ', ''));
      const response = await fetch(`${server.url}/log-output`);
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2}T[^ ]+Z: [0-9a-f-]{36}\\.\nPing / Pongs: ${pong}$`));
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('finishes in-flight requests on SIGTERM and exits 0', async () => {
    const server = await spawnServer({ DATABASE_URL: database.url, SHUTDOWN_TIMEOUT_MS: '10000' });
    const base = Number((await (await fetch(`${server.url}/pingpong`)).text()).replace('pong ', ''));
    // Hold the counter row so the next requests are provably in flight when the signal lands.
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query('select count from ping_count where id = 1 for update');
    const inFlight = Array.from({ length: 5 }, () => fetch(`${server.url}/pingpong`).then(async (r) => [r.status, await r.text()] as const));
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(fetch(`${server.url}/pings`)).rejects.toThrow();
    await blocker.query('commit');
    await blocker.end();

    const answers = await Promise.all(inFlight);
    expect(answers.every(([status]) => status === 200)).toBe(true);
    const numbers = answers.map(([, text]) => Number(text.replace('pong ', ''))).sort((a, b) => a - b);
    expect(numbers).toEqual([1, 2, 3, 4, 5].map((offset) => base + offset));
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"stopped","forced":false');
  });

  it('keeps the embedded counter across a restart under DATA_DIR', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'knfn-data-'));
    try {
      for (const expected of ['pong 1', 'pong 2']) {
        const server = await spawnServer({ DATA_DIR: dataDir });
        expect(await (await fetch(`${server.url}/pingpong`)).text()).toBe(expected);
        server.child.kill('SIGTERM');
        expect(await server.exited).toBe(0);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
