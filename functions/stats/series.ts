import { sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { estimateQuantileMs } from './quantiles.ts';
import { minuteMs, windowSeconds } from './query.ts';
import type { StatsQuery } from './query.ts';

/** One minute of one function, all its routes added up. */
export interface MinutePoint {
  /** The minute's start, ms since the epoch. */
  start: number;
  /** How much of the minute had passed when read: 60 s, except for the current minute. */
  seconds: number;
  requests: number;
  clientErrors: number;
  serverErrors: number;
  /** `null` without requests; `Infinity` when the quantile is above the largest finite bound. */
  p95Ms: number | null;
  /** Processes that served their first request of the function in this minute (cold starts). */
  coldStarts: number;
}

export interface FunctionSeries {
  function: string;
  requests: number;
  coldStarts: number;
  /** One point per minute of the window, oldest first, minutes without requests included. */
  points: MinutePoint[];
}

export interface SeriesQuery extends StatsQuery {
  /** Include the catch-all routes (`unmatched`, `/*`); without it they are left out. */
  all?: boolean;
}

interface Row {
  function: string;
  bucket_ms: number;
  requests: number;
  client_errors: number;
  server_errors: number;
  latency_counts: number[];
  process_starts: number;
}

/** The minute buckets covering the window, as `readStats` counts them: every one overlapping it. */
export function windowMinutes(to: number, seconds: number): number[] {
  const last = to - (to % minuteMs);
  const from = to - seconds * 1000;
  const first = from - (from % minuteMs);
  const starts: number[] = [];
  for (let start = first; start <= last; start += minuteMs) starts.push(start);
  return starts;
}

/**
 * Per function and minute over the window: requests, errors and p95 across its routes, busiest
 * function first. The rows are per minute already, so this only adds routes together.
 */
export async function readSeries(db: Database, query: SeriesQuery): Promise<FunctionSeries[]> {
  const to = query.now ?? Date.now();
  const minutes = windowMinutes(to, windowSeconds[query.window]);
  const filters: SQL[] = [
    sql`bucket_start >= ${new Date(minutes[0] ?? to).toISOString()}::timestamptz`,
    sql`bucket_start <= ${new Date(to).toISOString()}::timestamptz`,
  ];
  if (query.function) filters.push(sql`"function" = ${query.function}`);
  if (query.route) filters.push(sql`route = ${query.route}`);
  if (!query.all) filters.push(sql`route not in ('unmatched', '*', '/*')`);

  const result = (await db.execute(sql`
    with picked as (select * from request_stats where ${sql.join(filters, sql` and `)}),
    totals as (
      select "function", bucket_start,
        sum(requests)::float8 as requests,
        sum(client_errors)::float8 as client_errors,
        sum(server_errors)::float8 as server_errors,
        sum(process_starts)::float8 as process_starts
      from picked group by "function", bucket_start
    ),
    latency as (
      select "function", bucket_start, array_agg(total order by i) as latency_counts
      from (
        select "function", bucket_start, i, sum(c)::float8 as total
        from picked, unnest(latency_counts) with ordinality as u(c, i)
        group by "function", bucket_start, i
      ) per_bucket
      group by "function", bucket_start
    )
    select t."function", (extract(epoch from t.bucket_start) * 1000)::float8 as bucket_ms,
      t.requests, t.client_errors, t.server_errors, t.process_starts, l.latency_counts
    from totals t join latency l using ("function", bucket_start)
  `)) as unknown as { rows: Row[] };

  const byFunction = new Map<string, Map<number, Row>>();
  for (const row of result.rows) {
    const rows = byFunction.get(row.function) ?? new Map<number, Row>();
    rows.set(Number(row.bucket_ms), row);
    byFunction.set(row.function, rows);
  }
  const series = [...byFunction].map(([name, rows]): FunctionSeries => {
    const points = minutes.map((start) => toPoint(start, to, rows.get(start)));
    const total = (pick: (point: MinutePoint) => number) => points.reduce((sum, point) => sum + pick(point), 0);
    return { function: name, requests: total((point) => point.requests), coldStarts: total((point) => point.coldStarts), points };
  });
  return series.sort((a, b) => b.requests - a.requests || a.function.localeCompare(b.function));
}

function toPoint(start: number, to: number, row: Row | undefined): MinutePoint {
  const seconds = Math.min(60, Math.max(1, (to - start) / 1000));
  if (!row) return { start, seconds, requests: 0, clientErrors: 0, serverErrors: 0, p95Ms: null, coldStarts: 0 };
  const requests = Number(row.requests);
  const p95Ms = estimateQuantileMs(row.latency_counts.map(Number), 0.95);
  return {
    start,
    seconds,
    requests,
    clientErrors: Number(row.client_errors),
    serverErrors: Number(row.server_errors),
    p95Ms: requests > 0 && p95Ms === null ? Infinity : p95Ms,
    coldStarts: Number(row.process_starts),
  };
}
