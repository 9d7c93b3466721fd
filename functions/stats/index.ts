import { Hono } from 'hono';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { parseInput } from '../../runtime/validate.ts';
import * as z from '../../runtime/zod.ts';
import { renderDashboard } from './dashboard.ts';
import { readStats, windowSeconds } from './query.ts';
import type { StatsWindow } from './query.ts';

const windows = Object.keys(windowSeconds) as [StatsWindow, ...StatsWindow[]];

const querySchema = z.object({
  window: z._default(z.enum(windows), '1h'),
  // Empty (`function=`) means no filter, as a form with a blank field sends it.
  function: z.optional(z.string().check(z.maxLength(200))),
  route: z.optional(z.string().check(z.maxLength(1000))),
});

export default defineFunction({
  name: 'stats',
  description: 'Per-endpoint request rate, error rates and latency quantiles: GET /api/stats (JSON), GET /stats (dashboard).',
  scale: { min: 0, max: 3, target: 50 },
  app: new Hono<AppEnv>()
    .get('/api/stats', async (c) => {
      const query = parseInput(querySchema, c.req.query(), 'query');
      return c.json(await readStats(c.var.db, query));
    })
    .get('/stats', async (c) => {
      const query = parseInput(querySchema, c.req.query(), 'query');
      return c.html(renderDashboard(await readStats(c.var.db, query), query));
    }),
});
