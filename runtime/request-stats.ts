import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { requestStats } from '../db/schema.ts';
import type { Logger } from './logger.ts';

/**
 * Upper bounds (ms) of the latency buckets of `request_stats.latency_counts`; the last is +Inf.
 * Changing them changes what stored rows mean, so only ever append finite bounds before +Inf in
 * a new table or after the old rows have aged out.
 */
export const latencyBoundsMs: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, Infinity];

const minuteMs = 60_000;
// Each row binds 10 parameters and PostgreSQL allows 65535 per statement; a normal flush is far
// below this, only a backlog after a long outage is split.
const rowsPerStatement = 5000;

/** One (minute, function, method, route) aggregate; `latencyCounts` is per bucket, not cumulative. */
export interface StatsEntry {
  bucketStart: number;
  function: string;
  method: string;
  route: string;
  requests: number;
  clientErrors: number;
  serverErrors: number;
  durationMsSum: number;
  latencyCounts: number[];
  lastSeen: number;
  /** 1 on the entry of a function's first request in this process: a cold start. */
  processStarts: number;
}

export type StatsWriter = (entries: StatsEntry[]) => Promise<void>;

export interface RequestStatsRecorder {
  /** O(1), no I/O: adds one finished request to the current minute's aggregate. */
  record(fn: string, method: string, route: string, status: number, durationMs: number): void;
  /** Writes and clears what was recorded; on failure keeps it for the next flush. Never rejects. */
  flush(): Promise<void>;
  /** Flushes every `intervalMs` on an unref'd timer, so it never holds the process open. */
  startFlushing(intervalMs: number): void;
  /** Stops the timer and flushes what is left. */
  close(): Promise<void>;
  /** The aggregates not yet written, for tests and diagnostics. */
  pending(): StatsEntry[];
}

export interface RecorderOptions {
  write: StatsWriter;
  log: Logger;
  now?: () => number;
}

/** The index of the bucket a duration falls in: the first bound it does not exceed. */
export function latencyBucketIndex(durationMs: number): number {
  for (let index = 0; index < latencyBoundsMs.length - 1; index++) {
    if (durationMs <= (latencyBoundsMs[index] as number)) return index;
  }
  return latencyBoundsMs.length - 1;
}

export function createRequestStatsRecorder({ write, log, now = Date.now }: RecorderOptions): RequestStatsRecorder {
  let entries = new Map<string, StatsEntry>();
  // A function's first request in this process marks its cold start (one per container).
  const started = new Set<string>();
  let flushing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let last: StatsEntry | undefined;
  let lastKey = '';

  const mergeBack = (failed: StatsEntry[]) => {
    for (const entry of failed) {
      const key = keyOf(entry.bucketStart, entry.function, entry.method, entry.route);
      const current = entries.get(key);
      if (current) addInto(current, entry);
      else entries.set(key, entry);
    }
  };

  const flushOnce = async () => {
    if (entries.size === 0) return;
    // Swapped out before the write so requests finishing meanwhile land in a fresh map and
    // nothing is written twice.
    const taken = [...entries.values()];
    entries = new Map();
    for (let start = 0; start < taken.length; start += rowsPerStatement) {
      const batch = taken.slice(start, start + rowsPerStatement);
      try {
        await write(batch);
      } catch (error) {
        mergeBack(taken.slice(start));
        log.warn('writing request statistics failed; keeping them for the next flush', {
          error,
          entries: taken.length - start,
        });
        return;
      }
    }
  };

  const flush = () => {
    // Serialised, so a shutdown flush waits for an interval flush instead of racing it.
    flushing = flushing.then(flushOnce).catch((error: unknown) => log.warn('flushing request statistics failed', { error }));
    return flushing;
  };

  return {
    record(fn, method, route, status, durationMs) {
      const at = now();
      const bucketStart = at - (at % minuteMs);
      // Most requests repeat the one before (same minute and route): that skips building and
      // hashing the map key on every request.
      let entry =
        last !== undefined && last.bucketStart === bucketStart && last.route === route && last.method === method && last.function === fn && entries.get(lastKey) === last
          ? last
          : undefined;
      const key = entry === undefined ? keyOf(bucketStart, fn, method, route) : lastKey;
      entry ??= entries.get(key);
      if (!entry) {
        entry = {
          bucketStart,
          function: fn,
          method,
          route,
          requests: 0,
          clientErrors: 0,
          serverErrors: 0,
          durationMsSum: 0,
          latencyCounts: new Array<number>(latencyBoundsMs.length).fill(0),
          lastSeen: at,
          processStarts: 0,
        };
        entries.set(key, entry);
      }
      if (!started.has(fn)) {
        started.add(fn);
        entry.processStarts++;
      }
      entry.requests++;
      if (status >= 500) entry.serverErrors++;
      else if (status >= 400) entry.clientErrors++;
      entry.durationMsSum += durationMs;
      const bucket = latencyBucketIndex(durationMs);
      entry.latencyCounts[bucket] = (entry.latencyCounts[bucket] ?? 0) + 1;
      entry.lastSeen = at;
      last = entry;
      lastKey = key;
    },
    flush,
    startFlushing(intervalMs) {
      clearInterval(timer);
      timer = setInterval(() => void flush(), intervalMs);
      timer.unref();
    },
    async close() {
      clearInterval(timer);
      timer = undefined;
      await flush();
    },
    pending: () => [...entries.values()].map((entry) => ({ ...entry, latencyCounts: [...entry.latencyCounts] })),
  };
}

/**
 * One upsert for all entries: counts add up, so any number of instances may flush into the same
 * rows. `latency_counts` is stored cumulative (requests at or under each bound, as the schema
 * documents) and cumulative arrays also add element-wise.
 */
export function postgresStatsWriter(db: Database): StatsWriter {
  return async (entries) => {
    const rows = entries.map((entry) => ({
      bucketStart: new Date(entry.bucketStart),
      function: entry.function,
      method: entry.method,
      route: entry.route,
      requests: entry.requests,
      clientErrors: entry.clientErrors,
      serverErrors: entry.serverErrors,
      durationMsSum: entry.durationMsSum,
      latencyCounts: cumulative(entry.latencyCounts),
      lastSeen: new Date(entry.lastSeen),
      processStarts: entry.processStarts,
    }));
    await db
      .insert(requestStats)
      .values(rows)
      .onConflictDoUpdate({
        target: [requestStats.bucketStart, requestStats.function, requestStats.method, requestStats.route],
        set: {
          requests: sql`request_stats.requests + excluded.requests`,
          clientErrors: sql`request_stats.client_errors + excluded.client_errors`,
          serverErrors: sql`request_stats.server_errors + excluded.server_errors`,
          durationMsSum: sql`request_stats.duration_ms_sum + excluded.duration_ms_sum`,
          // coalesce: arrays of different lengths (bounds changed between deploys) still add.
          latencyCounts: sql`(select array_agg(coalesce(a, 0) + coalesce(b, 0) order by i)
            from unnest(request_stats.latency_counts, excluded.latency_counts) with ordinality as t(a, b, i))`,
          lastSeen: sql`greatest(request_stats.last_seen, excluded.last_seen)`,
          processStarts: sql`request_stats.process_starts + excluded.process_starts`,
        },
      });
  };
}

export function cumulative(counts: readonly number[]): number[] {
  let total = 0;
  return counts.map((count) => (total += count));
}

function keyOf(bucketStart: number, fn: string, method: string, route: string): string {
  return `${bucketStart}\u0000${fn}\u0000${method}\u0000${route}`;
}

function addInto(target: StatsEntry, source: StatsEntry): void {
  target.requests += source.requests;
  target.clientErrors += source.clientErrors;
  target.serverErrors += source.serverErrors;
  target.durationMsSum += source.durationMsSum;
  source.latencyCounts.forEach((count, index) => {
    target.latencyCounts[index] = (target.latencyCounts[index] ?? 0) + count;
  });
  target.lastSeen = Math.max(target.lastSeen, source.lastSeen);
  target.processStarts += source.processStarts;
}
