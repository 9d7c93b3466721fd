import { serve } from '@hono/node-server';
import { Pool } from '@neondatabase/serverless';
import { Hono } from 'hono';
import { configureDriver } from '../db/neon.ts';

/**
 * The naive baseline: one `UPDATE ... RETURNING` per request over a plain pool. Same driver and driver
 * settings (so the same socket to PostgreSQL), same pool size and HTTP stack as the product, so only the coalescing differs.
 * Expects a migrated database with the counter row seeded (bench/database.ts does both).
 */
const databaseUrl = new URL(process.env['DATABASE_URL'] ?? '');
const port = Number(process.env['PORT']);

await configureDriver({ url: databaseUrl.toString(), wsProxy: undefined, wsSecure: false });
const pool = new Pool({ connectionString: databaseUrl.toString(), max: 10 });

const app = new Hono()
  .get('/health', (c) => c.text('ok'))
  .get('/pingpong', async (c) => {
    const result = await pool.query<{ count: string }>('UPDATE ping_count SET count = count + 1 WHERE id = 1 RETURNING count');
    return c.text(`pong ${result.rows[0]?.count}`);
  });

serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
