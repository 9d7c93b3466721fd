import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationJob, rolesJob, shippedMigrations, waitBefore } from '../scripts/migrate-manifests.ts';
import { parseRelease } from '../scripts/release.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnEntry } from './support/process.ts';
import { startDatabaseProxy } from './support/tcp-proxy.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a Job's `sh -c <script> <name> <command...>` here, with libpq's variables pointing at `url`. */
function runWaitScript(script: string, command: string[], url: URL) {
  const child = spawn('sh', ['-c', script, 'job', ...command], {
    env: {
      PATH: process.env['PATH'] ?? '',
      PGHOST: url.hostname,
      PGPORT: url.port || '5432',
      PGUSER: decodeURIComponent(url.username),
      PGDATABASE: url.pathname.slice(1),
      PGCONNECT_TIMEOUT: '2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { output: () => output, exited, running: () => child.exitCode === null };
}

/**
 * `kubectl apply -k knative/` applies the roles, migration and grants Jobs together with
 * PostgreSQL: each must wait for what it needs instead of failing its few retries.
 */
describe('the migration Jobs applied all at once', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let proxiedUrl: URL;

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await startDatabaseProxy(database.url);
    proxy = proxied.proxy;
    proxiedUrl = new URL(proxied.url);
  });
  afterAll(async () => {
    await proxy?.stop();
    await database?.drop();
  });

  it('are generated with their waits', () => {
    const release = parseRelease('ghcr.io/knfn/knfn:v1.2.3');
    const [roles] = rolesJob(release, 'roles').spec?.template.spec?.containers ?? [];
    const [grants] = rolesJob(release, 'grants').spec?.template.spec?.containers ?? [];
    const [migrate] = migrationJob(release).spec?.template.spec?.containers ?? [];
    expect(roles?.command?.slice(0, 4)).toEqual(['sh', '-c', waitBefore('roles'), 'roles']);
    expect(grants?.command?.slice(0, 4)).toEqual(['sh', '-c', waitBefore('grants'), 'grants']);
    expect(grants?.command?.[4]).toBe('psql');
    expect(migrate?.env).toContainEqual({ name: 'MIGRATE_WAIT_MS', value: '240000' });
  });

  it('the roles Job waits for PostgreSQL to accept connections', async () => {
    await proxy.stop();
    const job = runWaitScript(waitBefore('roles'), ['echo', 'roles ran'], proxiedUrl);
    await sleep(1500);
    expect(job.running()).toBe(true);
    expect(job.output()).toContain('waiting for PostgreSQL');
    await proxy.start();
    expect(await job.exited).toBe(0);
    expect(job.output()).toContain('roles ran');
  });

  it('the migrator waits for the database, then migrates; the grants Job waits for that migration', async () => {
    await proxy.stop();
    const grants = runWaitScript(waitBefore('grants'), ['echo', 'grants ran'], new URL(database.url));
    const migrate = spawnEntry('runtime/migrate.ts', {
      DATABASE_URL: proxiedUrl.toString(),
      MIGRATE_WAIT_MS: '30000',
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
      LOG_FORMAT: 'json',
    });
    await sleep(2000);
    expect(migrate.child.exitCode).toBe(null);
    expect(migrate.output()).toContain('database not reachable yet; retrying');
    expect(grants.running()).toBe(true);
    expect(grants.output()).toContain(`waiting for the migration (${shippedMigrations()} migrations)`);
    await proxy.start();
    expect(await migrate.exited).toBe(0);
    expect(migrate.output()).toContain('migrations applied');
    expect(await grants.exited).toBe(0);
    expect(grants.output()).toContain('grants ran');
    const { rows } = await database.query<{ n: string }>('select count(*) as n from drizzle.__drizzle_migrations');
    expect(Number(rows[0]?.n)).toBe(shippedMigrations());
  }, 30_000);

  it('without MIGRATE_WAIT_MS the migrator fails at once on an unreachable database', async () => {
    await proxy.stop();
    const started = performance.now();
    const migrate = spawnEntry('runtime/migrate.ts', { DATABASE_URL: proxiedUrl.toString(), DATABASE_CONNECT_TIMEOUT_MS: '1000' });
    expect(await migrate.exited).toBe(1);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(migrate.output()).toContain('refused the connection');
    expect(migrate.output()).not.toContain('retrying');
    await proxy.start();
  }, 15_000);
});
