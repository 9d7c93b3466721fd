import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../db/client.ts';
import { readDatabaseSize } from '../db/database.ts';
import { allFunctions } from '../functions/index.ts';
import type { DatabaseConfig } from '../runtime/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { createRequestStatsRecorder, postgresStatsWriter } from '../runtime/request-stats.ts';
import { buildTestApp, postgresDatabase } from './support/app.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { queryAs, testRoles } from './support/roles.ts';
import type { TestRoles } from './support/roles.ts';

const log = createLogger({ level: 'silent' });

/** Opened as a role, never migrating: the migration is the owner's. */
const asRole = (url: string, poolMax = 2): DatabaseConfig => ({ ...(postgresDatabase(url) as Extract<DatabaseConfig, { kind: 'postgres' }>), poolMax, migrateOnStart: false });

let database: TestDatabase;
let roles: TestRoles;

beforeAll(async () => {
  database = await createTestDatabase();
  roles = testRoles(database);
  // As in a release: roles, the migration as the owner, roles again for the grants on its tables.
  roles.bootstrap();
  const owner = await openDatabase(postgresDatabase(roles.urls.owner), log);
  try {
    await owner.migrate('migrations');
  } finally {
    await owner.close();
  }
  roles.bootstrap();
});

afterAll(async () => {
  await database?.drop();
  await roles?.drop();
});

const refusedWith = (pattern: RegExp) => ({ refused: expect.stringMatching(pattern) });

describe('db/roles.sql', () => {
  it('leaves every table of the schema to the owner, and changes nothing when run again', async () => {
    const acl = () =>
      database.query<{ relname: string; owner: string; acl: string }>(
        `select c.relname, pg_get_userbyid(c.relowner) as owner, coalesce(c.relacl::text, '') as acl
         from pg_class c where c.relnamespace in ('public'::regnamespace, 'drizzle'::regnamespace) and c.relkind in ('r', 'S') order by 1`,
      );
    const before = (await acl()).rows;
    expect(before.length).toBeGreaterThanOrEqual(4);
    expect(new Set(before.map((row) => row.owner))).toEqual(new Set([roles.names.owner]));
    roles.bootstrap();
    expect((await acl()).rows).toEqual(before);
  });

  it('makes no role a superuser or able to create roles or databases', async () => {
    const { rows } = await database.query<{ rolname: string; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
      'select rolname, rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = any($1) order by 1',
      [Object.values(roles.names)],
    );
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row, row.rolname).toMatchObject({ rolsuper: false, rolcreaterole: false, rolcreatedb: false });
  });

  it('refuses a run without every password', () => {
    const result = spawnSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', database.name, '-v', 'owner=x', '-v', 'app=x', '-v', 'stats=x', '-v', 'backup=x', '-f', 'db/roles.sql'], {
      encoding: 'utf8',
      env: { ...process.env, KNFN_OWNER_PASSWORD: 'only-this-one', KNFN_APP_PASSWORD: '', KNFN_STATS_PASSWORD: '', KNFN_BACKUP_PASSWORD: '' },
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('no password in KNFN_APP_PASSWORD, KNFN_STATS_PASSWORD, KNFN_BACKUP_PASSWORD');
  });
});

describe('the app role (functions with database work)', () => {
  it('can change no schema and read no catalog of passwords', async () => {
    const app = roles.urls.app;
    expect(await queryAs(app, 'drop table messages')).toEqual(refusedWith(/must be owner/));
    expect(await queryAs(app, 'alter table messages add column sneaky text')).toEqual(refusedWith(/must be owner/));
    expect(await queryAs(app, 'create table sneaky (id int)')).toEqual(refusedWith(/permission denied for schema public/));
    expect(await queryAs(app, 'truncate request_stats')).toEqual(refusedWith(/permission denied/));
    expect(await queryAs(app, 'select rolpassword from pg_authid')).toEqual(refusedWith(/permission denied for table pg_authid/));
    expect(await queryAs(app, 'select * from drizzle.__drizzle_migrations')).toEqual(refusedWith(/permission denied for schema drizzle/));
  });

  it("runs every function's statements through the real apps", async () => {
    const withDatabase = allFunctions.filter((definition) => definition.usesDatabase);
    const json = { 'content-type': 'application/json' };
    const cloudEvent = (type: string, id: string) => ({ ...json, 'ce-id': id, 'ce-source': '/test', 'ce-type': type, 'ce-specversion': '1.0' });
    // In order: later requests read what earlier ones wrote. Every function with database work
    // must be here, so a new one is proven under the app role too.
    const requests: [fn: string, path: string, init: RequestInit, status: number][] = [
      ['pingpong', '/pingpong', {}, 200],
      ['pingpong', '/pingpong', {}, 200],
      ['pings', '/pings', {}, 200],
      ['locations', '/api/locations', { method: 'POST', headers: json, body: JSON.stringify({ name: 'oslo', timezone: 'Europe/Oslo' }) }, 201],
      ['locations', '/api/locations', { method: 'POST', headers: json, body: JSON.stringify({ name: 'gone', timezone: 'UTC' }) }, 201],
      ['locations', '/api/locations', {}, 200],
      ['locations', '/api/locations/oslo', {}, 200],
      ['locations', '/api/locations/oslo', { method: 'PUT', headers: json, body: JSON.stringify({ timezone: 'Europe/Oslo', description: 'fjord' }) }, 200],
      ['locations', '/api/locations/oslo', { method: 'PATCH', headers: json, body: JSON.stringify({ description: null }) }, 200],
      ['locations', '/api/locations/gone', { method: 'DELETE' }, 204],
      ['time', '/api/time?location=oslo', {}, 200],
      ['message-worker', '/_events/message', { method: 'POST', headers: cloudEvent('dev.knfn.message.saved', 'evt-1'), body: JSON.stringify({ data: 'hello', template: 'default' }) }, 204],
      ['message-worker', '/_events/message', { method: 'POST', headers: cloudEvent('dev.knfn.message.saved', 'evt-1'), body: JSON.stringify({ data: 'hello', template: 'default' }) }, 204],
      ['message-board', '/', {}, 200],
      ['message-board', '/view', {}, 200],
      ['dead-letters', '/_events/dead-letter', { method: 'POST', headers: cloudEvent('dev.knfn.message.saved', 'dead-1'), body: JSON.stringify({ data: 'lost', template: 'default' }) }, 204],
      ['stats', '/api/stats', {}, 200],
      ['stats', '/stats', {}, 200],
    ];
    expect(new Set(requests.map(([fn]) => fn))).toEqual(new Set(withDatabase.map((definition) => definition.name)));

    const { app, database: handle, close } = await buildTestApp(withDatabase, asRole(roles.urls.app));
    try {
      for (const [fn, path, init, status] of requests) {
        const response = await app.request(`http://localhost${path}`, init);
        expect(`${fn} ${init.method ?? 'GET'} ${path}: ${response.status} ${response.status === status ? '' : await response.text()}`).toBe(
          `${fn} ${init.method ?? 'GET'} ${path}: ${status} `,
        );
      }
      // The runtime's own statements under the same role: statistics, the size gauge, readiness.
      const recorder = createRequestStatsRecorder({ write: postgresStatsWriter(handle.db), log });
      recorder.record('pingpong', 'GET', '/pingpong', 200, 3);
      await recorder.flush();
      expect(recorder.pending()).toEqual([]);
      expect(await readDatabaseSize(handle.db)).toEqual({ database: database.name, bytes: expect.any(Number) });
      expect((await app.request('http://localhost/health/ready')).status).toBe(200);
    } finally {
      await close();
    }
    const { rows } = await database.query<{ count: string }>('select count(*) from messages');
    expect(rows[0]?.count).toBe('1');
  });

  it("reads and writes a table a later migration creates, without another run of db/roles.sql (the owner's default privileges)", async () => {
    expect(await queryAs(roles.urls.owner, 'create table later_feature (id bigserial primary key, note text)')).toEqual({ rows: [] });
    expect(await queryAs(roles.urls.app, "insert into later_feature (note) values ('new') returning id")).toEqual({ rows: [{ id: '1' }] });
    expect(await queryAs(roles.urls.backup, 'select note from later_feature')).toEqual({ rows: [{ note: 'new' }] });
    expect(await queryAs(roles.urls.stats, 'insert into later_feature (note) values (1)')).toEqual(refusedWith(/permission denied for table later_feature/));
    expect(await queryAs(roles.urls.owner, 'drop table later_feature')).toEqual({ rows: [] });
  });
});

describe('the stats role (functions whose only database work is their statistics)', () => {
  it("flushes the runtime's statistics upsert, the insert and the conflict path", async () => {
    const stats = await openDatabase(asRole(roles.urls.stats, 1), log);
    try {
      let now = Date.UTC(2026, 0, 1, 12, 0, 30);
      const recorder = createRequestStatsRecorder({ write: postgresStatsWriter(stats.db), log, now: () => now });
      recorder.record('save', 'POST', '/save', 202, 4);
      await recorder.flush();
      now += 1000;
      recorder.record('save', 'POST', '/save', 500, 40);
      await recorder.flush();
      expect(recorder.pending()).toEqual([]);
    } finally {
      await stats.close();
    }
    const { rows } = await database.query<{ requests: string; server_errors: string }>(
      "select requests, server_errors from request_stats where function = 'save' and bucket_start = '2026-01-01T12:00:00Z'",
    );
    expect(rows).toEqual([{ requests: '2', server_errors: '1' }]);
  });

  it('can read no message, write no other table, delete no statistics', async () => {
    const stats = roles.urls.stats;
    expect(await queryAs(stats, 'select * from messages')).toEqual(refusedWith(/permission denied for table messages/));
    expect(await queryAs(stats, "insert into locations (name, timezone) values ('x', 'UTC')")).toEqual(refusedWith(/permission denied for table locations/));
    expect(await queryAs(stats, 'update ping_count set count = 0')).toEqual(refusedWith(/permission denied for table ping_count/));
    expect(await queryAs(stats, 'delete from request_stats')).toEqual(refusedWith(/permission denied for table request_stats/));
  });
});

describe('the backup role', () => {
  it('dumps the whole database with pg_dump', () => {
    const url = new URL(roles.urls.backup);
    const result = spawnSync('pg_dump', ['--format=plain', '-h', url.hostname, '-p', url.port || '5432', '-U', roles.names.backup, database.name], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('COPY public.messages');
    expect(result.stdout).toContain('COPY drizzle.__drizzle_migrations');
  });

  it('writes nothing', async () => {
    const backup = roles.urls.backup;
    expect(await queryAs(backup, "insert into messages (event_id, data, template) values ('x', 'x', 'x')")).toEqual(refusedWith(/permission denied for table messages/));
    expect(await queryAs(backup, 'update ping_count set count = 0')).toEqual(refusedWith(/permission denied for table ping_count/));
    expect(await queryAs(backup, 'delete from request_stats')).toEqual(refusedWith(/permission denied for table request_stats/));
    expect(await queryAs(backup, 'create table sneaky (id int)')).toEqual(refusedWith(/permission denied for schema public/));
  });
});
