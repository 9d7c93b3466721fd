import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../db/client.ts';
import { createLogger } from '../runtime/logger.ts';
import { postgresDatabase } from './support/app.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { queryAs, testRoles } from './support/roles.ts';
import type { TestRoles } from './support/roles.ts';

const root = new URL('../', import.meta.url).pathname;

/** The backup CronJob's container, as committed: its command and env are what runs nightly. */
function backupContainer(): { command: string[]; env: { name: string; value?: string }[] } {
  const documents = parseAllDocuments(readFileSync(join(root, 'knative/600-backup-cronjob.yaml'), 'utf8')).map((document) => document.toJSON());
  const cronJob = documents.find((document) => document.kind === 'CronJob');
  return cronJob.spec.jobTemplate.spec.template.spec.containers[0];
}

/** The `pg_restore` line of knative/README.md's restore runbook. */
function restoreCommand(): string {
  const readme = readFileSync(join(root, 'knative/README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Backups and restore'));
  const line = section.split('\n').find((candidate) => candidate.startsWith('pg_restore '));
  if (!line) throw new Error('knative/README.md has no pg_restore line under "Backups and restore"');
  return line;
}

let database: TestDatabase;
let roles: TestRoles;
let backups: string;

beforeAll(async () => {
  database = await createTestDatabase();
  roles = testRoles(database);
  roles.bootstrap();
  const owner = await openDatabase(postgresDatabase(roles.urls.owner), createLogger({ level: 'silent' }));
  try {
    await owner.migrate('migrations');
  } finally {
    await owner.close();
  }
  roles.bootstrap();
  backups = mkdtempSync(join(tmpdir(), 'knfn-backups-'));
});

afterAll(async () => {
  await database?.drop();
  await roles?.drop();
  if (backups) rmSync(backups, { recursive: true, force: true });
});

const snapshot = async () => ({
  locations: (await database.query('select name, timezone, description from locations order by name')).rows,
  messages: (await database.query('select id, event_id, data, template, created_at from messages order by id')).rows,
  pings: (await database.query('select id, count from ping_count order by id')).rows,
  stats: (await database.query('select bucket_start, function, requests, latency_counts from request_stats order by 1, 2')).rows,
  migrations: (await database.query('select hash from drizzle.__drizzle_migrations order by id')).rows,
});

it("the CronJob's dump, taken as the backup role, restores with the README's pg_restore as the owner: data equal, grants intact", async () => {
  // Seeded as the functions would: the app role writes, the stats role records.
  for (const statement of [
    "insert into locations (name, timezone, description) values ('oslo', 'Europe/Oslo', 'fjord'), ('tokyo', 'Asia/Tokyo', null)",
    "insert into messages (event_id, data, template) values ('e1', 'first', 'default'), ('e2', 'second', 'dark')",
    'insert into ping_count (id, count) values (1, 42)',
  ]) {
    expect(await queryAs(roles.urls.app, statement)).toEqual({ rows: [] });
  }
  expect(
    await queryAs(roles.urls.stats, "insert into request_stats values ('2026-01-01T00:00:00Z', 'save', 'POST', '/save', 3, 0, 1, 9.5, '{1,2,3}', now())"),
  ).toEqual({ rows: [] });
  const before = await snapshot();

  // The nightly job, exactly: its script and env from the manifest, the cluster's host swapped for this one.
  const container = backupContainer();
  const [shell, flag, script] = container.command;
  const fixedEnv = Object.fromEntries(container.env.filter((variable) => variable.value !== undefined).map((variable) => [variable.name, variable.value as string]));
  expect(fixedEnv['PGUSER']).toBe('knfn_backup');
  const dump = spawnSync(shell as string, [flag as string, script as string], {
    encoding: 'utf8',
    env: { ...process.env, ...fixedEnv, BACKUP_DIR: backups, PGHOST: '127.0.0.1', PGPORT: '5432', PGUSER: roles.names.backup, PGPASSWORD: 'backup-pw', PGDATABASE: database.name },
  });
  expect(dump.stderr).toBe('');
  expect(dump.status).toBe(0);
  const files = readdirSync(backups);
  expect(files).toEqual([expect.stringMatching(/^knfn-\d{8}T\d{6}Z\.dump$/)]);

  // The disaster: a table gone, rows changed, the migrations' record gone.
  for (const statement of ['drop table locations', "delete from messages where event_id = 'e2'", 'update ping_count set count = 0', 'drop schema drizzle cascade']) {
    expect(await queryAs(roles.urls.owner, statement)).toEqual({ rows: [] });
  }
  expect(await snapshot().catch((error: Error) => error.message)).toMatch(/does not exist/);

  const line = restoreCommand();
  const restoreLine = line.replace('/backups/knfn-<date>.dump', join(backups, files[0] as string));
  expect(restoreLine).not.toBe(line);
  const restore = spawnSync('sh', ['-c', restoreLine], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: roles.urls.owner } });
  expect(restore.stderr).toBe('');
  expect(restore.status).toBe(0);

  expect(await snapshot()).toEqual(before);
  // Restored as the owner, with the grants of the dump: the functions' roles work as before.
  expect(await queryAs(roles.urls.app, "insert into locations (name, timezone) values ('lima', 'America/Lima')")).toEqual({ rows: [] });
  expect(await queryAs(roles.urls.stats, 'select * from messages')).toEqual({ refused: expect.stringMatching(/permission denied/) });
  const { rows } = await database.query<{ tableowner: string }>("select distinct tableowner from pg_tables where schemaname in ('public', 'drizzle')");
  expect(rows).toEqual([{ tableowner: roles.names.owner }]);
});
