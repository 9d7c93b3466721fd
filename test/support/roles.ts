import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { rolesPsqlArgs } from '../../scripts/migrate-manifests.ts';
import type { RoleNames } from '../../scripts/migrate-manifests.ts';
import { adminUrl } from './postgres.ts';
import type { TestDatabase } from './postgres.ts';

export interface TestRoles {
  readonly names: RoleNames;
  /** A connection string to the database as each role. */
  readonly urls: RoleNames;
  /** Runs db/roles.sql as the superuser with psql, as the cluster's role Jobs do. */
  bootstrap(): void;
  /** Drops the roles; call after the database is dropped (its grants go with it). */
  drop(): Promise<void>;
}

/**
 * Roles of db/roles.sql under names of their own: roles belong to the whole server, so each test
 * file makes its own and drops them, and never touches the cluster's knfn_* names.
 */
export function testRoles(database: TestDatabase): TestRoles {
  const prefix = `knfn_t_${randomBytes(4).toString('hex')}`;
  const names: RoleNames = { owner: `${prefix}_owner`, app: `${prefix}_app`, stats: `${prefix}_stats`, backup: `${prefix}_backup` };
  const passwords: RoleNames = { owner: 'owner-pw', app: 'app-pw', stats: 'stats-pw', backup: 'backup-pw' };
  const server = new URL(adminUrl);
  const urlOf = (role: keyof RoleNames) => {
    const url = new URL(database.url);
    url.username = names[role];
    url.password = passwords[role];
    return url.toString();
  };
  return {
    names,
    urls: { owner: urlOf('owner'), app: urlOf('app'), stats: urlOf('stats'), backup: urlOf('backup') },
    bootstrap() {
      const [command, ...args] = rolesPsqlArgs('db/roles.sql', names);
      const result = spawnSync(command as string, args, {
        encoding: 'utf8',
        env: {
          ...process.env,
          PGHOST: server.hostname,
          PGPORT: server.port || '5432',
          PGUSER: decodeURIComponent(server.username) || 'postgres',
          PGDATABASE: database.name,
          KNFN_OWNER_PASSWORD: passwords.owner,
          KNFN_APP_PASSWORD: passwords.app,
          KNFN_STATS_PASSWORD: passwords.stats,
          KNFN_BACKUP_PASSWORD: passwords.backup,
        },
      });
      if (result.error) throw new Error(`psql is needed for db/roles.sql (apt-get install postgresql-client): ${result.error.message}`);
      if (result.status !== 0) throw new Error(`db/roles.sql failed (${result.status}):\n${result.stderr}`);
    },
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        for (const name of Object.values(names)) await client.query(`drop role if exists ${name}`);
      } finally {
        await client.end();
      }
    },
  };
}

/** One statement as `url`'s role; resolves with the error's message when PostgreSQL refuses it. */
export async function queryAs(url: string, text: string): Promise<{ rows: unknown[] } | { refused: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(text);
    return { rows: result.rows };
  } catch (error) {
    return { refused: (error as Error).message };
  } finally {
    await client.end();
  }
}
