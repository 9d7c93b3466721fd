import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { accepts } from 'hono/accepts';
import type { Database } from '../../db/client.ts';
import { pingCount, pingCounterId } from '../../db/schema.ts';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';

/** The number of pongs answered so far (0 before the first). */
async function currentPings(db: Database): Promise<number> {
  const [row] = await db.select({ count: pingCount.count }).from(pingCount).where(eq(pingCount.id, pingCounterId));
  return row?.count ?? 0;
}

export default defineFunction({
  name: 'pings',
  description: 'GET /pings answers the number of pongs so far: text, or {"pings":N} for JSON clients.',
  scale: { min: 0, max: 5, target: 100 },
  docs: [{ route: 'GET /pings', answer: 'the number of pongs so far: `N` as text, `{"pings":N}` with `Accept: application/json`' }],
  app: new Hono<AppEnv>().get('/pings', async (c) => {
    const pings = await currentPings(c.var.db);
    const type = accepts(c, { header: 'Accept', supports: ['text/plain', 'application/json'], default: 'text/plain' });
    return type === 'application/json' ? c.json({ pings }) : c.text(String(pings));
  }),
});
