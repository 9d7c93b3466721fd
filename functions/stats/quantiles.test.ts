import { describe, expect, it } from 'vitest';
import { cumulative, latencyBoundsMs, latencyBucketIndex } from '../../runtime/request-stats.ts';
import { estimateQuantileMs } from './quantiles.ts';

/** Cumulative counts of the given durations, as stored in `request_stats.latency_counts`. */
function countsOf(durationsMs: number[]): number[] {
  const counts = new Array<number>(latencyBoundsMs.length).fill(0);
  for (const duration of durationsMs) {
    const index = latencyBucketIndex(duration);
    counts[index] = (counts[index] ?? 0) + 1;
  }
  return cumulative(counts);
}

describe('the latency quantile estimate', () => {
  it('is the upper bound of the bucket holding the quantile', () => {
    // 50 requests of 3 ms (bucket 5), 45 of 40 ms (bucket 50), 4 of 300 ms (bucket 500), 1 of 3 s (5000).
    const counts = countsOf([...Array<number>(50).fill(3), ...Array<number>(45).fill(40), ...Array<number>(4).fill(300), 3000]);
    expect(estimateQuantileMs(counts, 0.5)).toBe(5);
    expect(estimateQuantileMs(counts, 0.51)).toBe(50);
    expect(estimateQuantileMs(counts, 0.95)).toBe(50);
    expect(estimateQuantileMs(counts, 0.96)).toBe(500);
    expect(estimateQuantileMs(counts, 0.99)).toBe(500);
    expect(estimateQuantileMs(counts, 1)).toBe(5000);
  });

  it('is exact at bucket edges despite float noise', () => {
    // 0.07 * 100 is 7.000000000000001 in floating point: the 7th request, not the 8th.
    const counts = countsOf([...Array<number>(7).fill(1), ...Array<number>(93).fill(100)]);
    expect(estimateQuantileMs(counts, 0.07)).toBe(1);
    expect(estimateQuantileMs(counts, 0.08)).toBe(100);
  });

  it('handles one request, none, and the +Inf bucket', () => {
    expect(estimateQuantileMs(countsOf([12]), 0.5)).toBe(25);
    expect(estimateQuantileMs(countsOf([12]), 0.99)).toBe(25);
    expect(estimateQuantileMs(countsOf([]), 0.5)).toBeNull();
    expect(estimateQuantileMs(countsOf([20_000, 1]), 0.99)).toBeNull();
    expect(estimateQuantileMs(countsOf([20_000, 1]), 0.5)).toBe(1);
  });
});
