import { mkdirSync } from 'node:fs';
import { defineConfig } from 'drizzle-kit';

// Without DATABASE_URL, drizzle-kit works on the same embedded database `npm start` uses.
const url = process.env['DATABASE_URL'];
const dataDir = process.env['DATA_DIR'] ?? '.data';
// PGlite creates its own folder but not the parents drizzle-kit expects to exist.
if (!url) mkdirSync(dataDir, { recursive: true });

export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './migrations',
  ...(url ? { dbCredentials: { url } } : { driver: 'pglite', dbCredentials: { url: `${dataDir}/pglite` } }),
  migrations: { table: '__drizzle_migrations', schema: 'drizzle' },
  strict: true,
  verbose: true,
});
