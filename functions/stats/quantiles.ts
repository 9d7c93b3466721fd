import { latencyBoundsMs } from '../../runtime/request-stats.ts';

/**
 * Estimates a latency quantile from cumulative bucket counts (`request_stats.latency_counts`):
 * the upper bound of the bucket holding the quantile's request. The answer is therefore only as
 * fine as the runtime's buckets: a reported p95 of 250 means "between 100 and 250 ms". `null`
 * when there are no requests or the quantile lies above the largest finite bound.
 */
export function estimateQuantileMs(cumulativeCounts: readonly number[], quantile: number): number | null {
  const total = cumulativeCounts.at(-1) ?? 0;
  if (total <= 0) return null;
  // The epsilon keeps float noise (0.07 * 100 = 7.000000000000001) from moving the rank up one.
  const rank = Math.max(1, Math.ceil(quantile * total - 1e-9));
  const index = cumulativeCounts.findIndex((count) => count >= rank);
  const bound = latencyBoundsMs[index];
  return bound === undefined || bound === Infinity ? null : bound;
}
