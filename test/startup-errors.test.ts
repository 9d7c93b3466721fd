import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnEntry, spawnServer } from './support/process.ts';
import { adminUrl, createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

async function listenOnFreePort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function closedPort(): Promise<number> {
  const server = await listenOnFreePort();
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs the real entry and returns its whole output, which must be that one line and exit 1. */
async function failedStart(env: Record<string, string>, entry = 'runtime/main.ts', args: string[] = []): Promise<string> {
  const started = spawnEntry(entry, { HOST: '127.0.0.1', PORT: '0', ...env }, args);
  expect(await started.exited).toBe(1);
  return started.output();
}

const server = new URL(adminUrl);
const postgresAt = `${server.hostname}:${server.port || '5432'}`;
const urlWith = (user: string, database: string) => `postgres://${user}@${postgresAt}/${database}`;

describe('a failed start-up says the cause and the fix in one line', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'knfn-startup-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('names a PostgreSQL that refuses connections', async () => {
    const port = await closedPort();
    expect(await failedStart({ DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/app` })).toBe(
      `knfn: PostgreSQL at 127.0.0.1:${port} refused the connection (is it running?): start it, or correct the host and port in DATABASE_URL\n`,
    );
  });

  it('names a database host that does not resolve', async () => {
    expect(await failedStart({ DATABASE_URL: 'postgres://postgres@knfn-no-such-host.invalid:5432/app' })).toBe(
      'knfn: the database host "knfn-no-such-host.invalid" in DATABASE_URL does not resolve: correct it (e.g. 127.0.0.1)\n',
    );
  });

  it('names a missing database and how to create it', async () => {
    expect(await failedStart({ DATABASE_URL: urlWith('postgres', 'knfn_no_such_db') })).toBe(
      `knfn: database "knfn_no_such_db" does not exist on ${postgresAt}: create it (createdb -h ${server.hostname} -p ${server.port || '5432'} -U postgres knfn_no_such_db), or name another in DATABASE_URL\n`,
    );
  });

  it('names a missing role and how to create it', async () => {
    expect(await failedStart({ DATABASE_URL: urlWith('knfn_no_such_role', 'postgres') })).toBe(
      `knfn: role "knfn_no_such_role" does not exist on ${postgresAt}: create it (createuser -h ${server.hostname} -p ${server.port || '5432'} -U postgres knfn_no_such_role), or name another user in DATABASE_URL\n`,
    );
  });

  it('prints the stack only with LOG_LEVEL=debug', async () => {
    const port = await closedPort();
    const output = await failedStart({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/app`, LOG_LEVEL: 'debug' });
    // Debug also logs the warm-up connection's failure (JSON) before it.
    const [first, ...rest] = output.trim().split('\n').filter((line) => !line.startsWith('{'));
    expect(first).toBe(`knfn: PostgreSQL at 127.0.0.1:${port} refused the connection (is it running?): start it, or correct the host and port in DATABASE_URL`);
    expect(rest.some((line) => /^\s+at /.test(line))).toBe(true);
  });

  it('names the same cause under --isolated, not the bridge closing the socket', async () => {
    const port = await closedPort();
    const output = await failedStart({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/app` }, 'runtime/main.ts', ['--isolated']);
    // A JSON log line may come first (the bundles build meanwhile); the failure is one line.
    expect(output.split('\n').filter((line) => !line.startsWith('{'))).toEqual([
      `knfn: PostgreSQL at 127.0.0.1:${port} refused the connection (is it running?): start it, or correct the host and port in DATABASE_URL`,
      '',
    ]);
  });

  describe('a busy port', () => {
    let busy: Server;
    let port: number;
    let database: TestDatabase;
    beforeAll(async () => {
      busy = await listenOnFreePort();
      port = (busy.address() as AddressInfo).port;
      database = await createTestDatabase();
    });
    afterAll(async () => {
      await new Promise((resolve) => busy.close(resolve));
      await database?.drop();
    });
    const line = () =>
      `knfn: port ${port} on 127.0.0.1 is already in use (another npm start?): stop that process, or choose another port with PORT=${port + 1}\n`;

    it('is refused before the embedded database is opened', async () => {
      const ownDir = join(dataDir, 'busy');
      expect(await failedStart({ PORT: String(port), DATA_DIR: ownDir })).toBe(line());
      await expect(readdir(ownDir)).rejects.toThrow(/ENOENT/);
    });

    it('is refused before PostgreSQL is migrated', async () => {
      expect(await failedStart({ PORT: String(port), DATABASE_URL: database.url })).toBe(line());
      const tables = await database.query(`select count(*)::int as n from information_schema.tables where table_schema in ('public', 'drizzle')`);
      expect(tables.rows[0]).toEqual({ n: 0 });
    });
  });

  describe('the embedded database held by another process', () => {
    const held = () => join(dataDir, 'held');
    const line = (pid: number | undefined) =>
      `the embedded database in ${held()}/pglite is in use by process ${pid} (another npm start?): stop it (kill ${pid}), or give this one its own DATA_DIR, or use a PostgreSQL server with DATABASE_URL\n`;

    it('stops a second npm start and npm run migrate, naming the holder', async () => {
      const first = await spawnServer({ DATA_DIR: held() });
      try {
        expect(await failedStart({ DATA_DIR: held() })).toBe(`knfn: ${line(first.child.pid)}`);
        expect(await failedStart({ DATA_DIR: held() }, 'runtime/migrate.ts')).toBe(`knfn migrate: ${line(first.child.pid)}`);
        // The holder is unharmed.
        expect(await (await fetch(`${first.url}/pingpong`)).text()).toBe('pong 1');
      } finally {
        first.child.kill('SIGTERM');
        expect(await first.exited).toBe(0);
      }
      // Released on a clean stop: the next start opens it and finds the counter.
      const next = await spawnServer({ DATA_DIR: held() });
      try {
        expect(await (await fetch(`${next.url}/pingpong`)).text()).toBe('pong 2');
      } finally {
        next.child.kill('SIGTERM');
        await next.exited;
      }
    });

    it('stops a second npm start on PostgreSQL whose DATA_DIR holds the first one\'s event journal', async () => {
      const database = await createTestDatabase();
      const dir = join(dataDir, 'journal');
      const first = await spawnServer({ DATA_DIR: dir, DATABASE_URL: database.url });
      try {
        // The journal is opened after the (idempotent) migration, whose log line may come first.
        const output = await failedStart({ DATA_DIR: dir, DATABASE_URL: database.url });
        expect(output.split('\n').filter((line) => line !== '' && !line.startsWith('{'))).toEqual([
          `knfn: start-up failed: the event journal in ${dir}/outbox is in use by process ${first.child.pid} (another npm start with the same DATA_DIR?): stop it (kill ${first.child.pid}), or give this one its own DATA_DIR (LOG_LEVEL=debug prints the stack)`,
        ]);
        // The holder still accepts and stores saves.
        const saved = await fetch(`${first.url}/save`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"data":"still mine"}' });
        expect(saved.status).toBe(202);
      } finally {
        first.child.kill('SIGTERM');
        await first.exited;
        await database.drop();
      }
    });

    it('takes over the lock of a process that was killed', async () => {
      const dir = join(dataDir, 'killed');
      const first = await spawnServer({ DATA_DIR: dir });
      first.child.kill('SIGKILL');
      await first.exited;
      expect(await readdir(dir)).toContain('pglite.pid');
      const next = await spawnServer({ DATA_DIR: dir });
      try {
        expect((await fetch(`${next.url}/health/ready`)).status).toBe(200);
      } finally {
        next.child.kill('SIGTERM');
        await next.exited;
      }
    });
  });
});
