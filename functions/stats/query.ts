import { sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { estimateQuantileMs } from './quantiles.ts';

export const windowSeconds = { '15m': 15 * 60, '1h': 60 * 60, '24h': 24 * 60 * 60 } as const;
export type StatsWindow = keyof typeof windowSeconds;

export interface EndpointStats {
  function: string;
  method: string;
  route: string;
  requests: number;
  /** Averaged over the whole window: what the endpoint costs over time. */
  requestsPerSecond: number;
  /** Minutes of the window in which the endpoint answered at least one request. */
  activeMinutes: number;
  /** Averaged over the active minutes only (the current one counted as far as it has run). */
  requestsPerActiveSecond: number;
  clientErrorRate: number;
  serverErrorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  lastSeen: string;
}

export interface StatsReport {
  window: StatsWindow;
  from: string;
  to: string;
  endpoints: EndpointStats[];
}

export interface StatsQuery {
  window: StatsWindow;
  function?: string | undefined;
  route?: string | undefined;
  now?: number;
}

interface Row {
  function: string;
  method: string;
  route: string;
  requests: number;
  client_errors: number;
  server_errors: number;
  last_seen_ms: number;
  active_minutes: number;
  active_seconds: number;
  latency_counts: number[];
}

export const minuteMs = 60_000;

/** Routes a request gets when no route of the function matched: the dashboard hides them by default. */
export function isCatchAllRoute(route: string): boolean {
  return route === 'unmatched' || route === '*' || route === '/*';
}

/**
 * Per-endpoint figures over the window, busiest first. Rows are per minute, so the window is
 * covered in whole minutes: every bucket overlapping [from, to] counts.
 */
export async function readStats(db: Database, query: StatsQuery): Promise<StatsReport> {
  const to = query.now ?? Date.now();
  const seconds = windowSeconds[query.window];
  const from = to - seconds * 1000;
  const filters: SQL[] = [
    sql`bucket_start > ${new Date(from - minuteMs).toISOString()}::timestamptz`,
    sql`bucket_start <= ${new Date(to).toISOString()}::timestamptz`,
  ];
  if (query.function) filters.push(sql`"function" = ${query.function}`);
  if (query.route) filters.push(sql`route = ${query.route}`);

  const result = (await db.execute(sql`
    with picked as (select * from request_stats where ${sql.join(filters, sql` and `)}),
    totals as (
      select "function", method, route,
        sum(requests)::float8 as requests,
        sum(client_errors)::float8 as client_errors,
        sum(server_errors)::float8 as server_errors,
        (extract(epoch from max(last_seen)) * 1000)::float8 as last_seen_ms,
        count(*) filter (where requests > 0)::float8 as active_minutes,
        -- The current minute has only run for part of its 60 s.
        coalesce(sum(least(60, greatest(1, extract(epoch from ${new Date(to).toISOString()}::timestamptz - bucket_start))))
          filter (where requests > 0), 0)::float8 as active_seconds
      from picked group by "function", method, route
    ),
    latency as (
      select "function", method, route, array_agg(total order by i) as latency_counts
      from (
        select "function", method, route, i, sum(c)::float8 as total
        from picked, unnest(latency_counts) with ordinality as u(c, i)
        group by "function", method, route, i
      ) per_bucket
      group by "function", method, route
    )
    select t.*, l.latency_counts
    from totals t join latency l using ("function", method, route)
    order by t.requests desc, t."function", t.route, t.method
  `)) as unknown as { rows: Row[] };

  return {
    window: query.window,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    endpoints: result.rows.map((row) => toEndpoint(row, seconds)),
  };
}

function toEndpoint(row: Row, seconds: number): EndpointStats {
  const requests = Number(row.requests);
  const counts = row.latency_counts.map(Number);
  return {
    function: row.function,
    method: row.method,
    route: row.route,
    requests,
    requestsPerSecond: requests / seconds,
    activeMinutes: Number(row.active_minutes),
    requestsPerActiveSecond: Number(row.active_seconds) > 0 ? requests / Number(row.active_seconds) : 0,
    clientErrorRate: requests === 0 ? 0 : Number(row.client_errors) / requests,
    serverErrorRate: requests === 0 ? 0 : Number(row.server_errors) / requests,
    p50Ms: estimateQuantileMs(counts, 0.5),
    p95Ms: estimateQuantileMs(counts, 0.95),
    p99Ms: estimateQuantileMs(counts, 0.99),
    lastSeen: new Date(Number(row.last_seen_ms)).toISOString(),
  };
}
