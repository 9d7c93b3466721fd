import { Hono } from 'hono';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { parseInput } from '../../runtime/validate.ts';
import * as z from '../../runtime/zod.ts';
import { contentSecurityPolicy, renderDashboard } from './dashboard.ts';
import { readStats, windowSeconds } from './query.ts';
import type { StatsWindow } from './query.ts';
import { readSeries } from './series.ts';
import { createClock, isTimeZone } from './times.ts';

const windows = Object.keys(windowSeconds) as [StatsWindow, ...StatsWindow[]];

/**
 * Dashboards and scripts poll the same few queries; every instance shares one answer per query
 * for this long, so a poll costs the database one aggregate per few seconds, not one per client.
 */
const statsCacheTtlMs = 5000;

const querySchema = z.object({
  window: z._default(z.enum(windows), '1h'),
  // Empty (`function=`) means no filter, as a form with a blank field sends it.
  function: z.optional(z.string().check(z.maxLength(200))),
  route: z.optional(z.string().check(z.maxLength(1000))),
});

const dashboardSchema = z.extend(querySchema, {
  // Unmatched and catch-all rows are noise on a dashboard, but a flood of 404s is worth a look.
  all: z.optional(z.enum(['0', '1'])),
  tz: z.optional(z.string().check(z.maxLength(64), z.refine(isTimeZone, 'not a time zone (e.g. Europe/Berlin)'))),
});

export default defineFunction({
  name: 'stats',
  description: 'Per-endpoint request rate, error rates and latency quantiles: GET /api/stats (JSON), GET /stats (dashboard).',
  scale: { min: 0, max: 3, target: 50 },
  docs: [
    {
      route: 'GET /api/stats?window=15m|1h|24h&function=&route=',
      answer:
        'per endpoint: requests, requests/s over the window, `activeMinutes` and `requestsPerActiveSecond` (the rate over the minutes with requests), 4xx and 5xx rates, p50/p95/p99 latency (upper bound of the histogram bucket), last seen (shared cache: up to 5 s old); `inFlight`: requests being answered now per function, across instances',
    },
    {
      route: 'GET /stats?window=15m|1h|24h&all=1&tz=Area/City',
      answer:
        'a dashboard: requests/s, error rates and p95 per function and minute as SVG charts, then the per-route table; matched routes only unless `all=1`; reloads every 30 s; no script (strict CSP)',
    },
  ],
  app: new Hono<AppEnv>()
    .get('/api/stats', async (c) => {
      const query = parseInput(querySchema, c.req.query(), 'query');
      const key = `stats:${JSON.stringify([query.window, query.function ?? '', query.route ?? ''])}`;
      const [report, inFlight] = await Promise.all([
        c.var.cache.readThrough(key, { ttlMs: statsCacheTtlMs }, () => readStats(c.var.db, query)),
        c.var.inFlight(),
      ]);
      return c.json({ ...report, inFlight });
    })
    .get('/stats', async (c) => {
      const { all, tz, ...query } = parseInput(dashboardSchema, c.req.query(), 'query');
      const now = Date.now();
      const showAll = all === '1';
      const [report, series, inFlight] = await Promise.all([
        readStats(c.var.db, { ...query, now }),
        readSeries(c.var.db, { ...query, now, all: showAll }),
        c.var.inFlight(),
      ]);
      c.header('Content-Security-Policy', contentSecurityPolicy);
      return c.html(renderDashboard(report, series, { ...query, all: showAll, tz, now, clock: createClock(tz), inFlight }));
    }),
});
