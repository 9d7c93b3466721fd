import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, expect, it, vi } from 'vitest';
import { adminUrl } from './support/postgres.ts';

const original = process.env['TEST_DATABASE_URL'];
afterEach(() => {
  if (original === undefined) delete process.env['TEST_DATABASE_URL'];
  else process.env['TEST_DATABASE_URL'] = original;
  vi.resetModules();
});

async function runSetupFor(url: string): Promise<void> {
  process.env['TEST_DATABASE_URL'] = url;
  vi.resetModules();
  const { default: setup } = await import('./support/global-setup.ts');
  await setup();
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return (await client.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

async function dropDatabase(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`drop database if exists ${name}`).finally(() => client.end());
}

it("creates the tests' database when the server lacks it, and leaves it be when present", async () => {
  const name = `knfn_setup_${randomBytes(4).toString('hex')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    expect(await databaseExists(name)).toBe(false);
    await runSetupFor(url.toString());
    expect(await databaseExists(name)).toBe(true);
    await runSetupFor(url.toString());
    expect(await databaseExists(name)).toBe(true);
  } finally {
    await dropDatabase(name);
  }
});

it('leaves an unreachable server to the database tests, which fail saying so', async () => {
  await expect(runSetupFor('postgres://postgres@127.0.0.1:1/test')).resolves.toBeUndefined();
  const { createTestDatabase } = await import('./support/postgres.ts');
  await expect(createTestDatabase()).rejects.toThrow(/PostgreSQL for tests is not reachable at postgres:\/\/postgres@127\.0\.0\.1:1\/test .*database tests never skip/);
});
