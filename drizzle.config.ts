import { mkdirSync } from 'node:fs';
import { defineConfig } from 'drizzle-kit';
import { PgliteInUseError, lockPglite } from './db/pglite-lock.ts';

// Without DATABASE_URL, drizzle-kit works on the same embedded database `npm start` uses.
const url = process.env['DATABASE_URL'];
const dataDir = process.env['DATA_DIR'] ?? '.data';
// PGlite creates its own folder but not the parents drizzle-kit expects to exist.
if (!url) mkdirSync(dataDir, { recursive: true });
// PGlite is one process's database: while `npm start` holds it, drizzle-kit must not open it too.
// `generate` and `check` read only the schema and the migrations folder.
if (!url && !['generate', 'check'].some((command) => process.argv.includes(command))) {
  try {
    lockPglite(`${dataDir}/pglite`);
  } catch (error) {
    if (!(error instanceof PgliteInUseError)) throw error;
    process.stderr.write(
      `knfn: the embedded database in ${error.dataDir} is in use by process ${error.pid} (npm start?): ` +
        'stop it first, or run drizzle-kit against a server with DATABASE_URL\n',
    );
    process.exit(1);
  }
}

export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './migrations',
  ...(url ? { dbCredentials: { url } } : { driver: 'pglite', dbCredentials: { url: `${dataDir}/pglite` } }),
  migrations: { table: '__drizzle_migrations', schema: 'drizzle' },
  strict: true,
  verbose: true,
});
