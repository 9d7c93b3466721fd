import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { createRequestStatsRecorder, cumulative, latencyBoundsMs, latencyBucketIndex } from './request-stats.ts';
import type { StatsEntry } from './request-stats.ts';

const log = createLogger({ level: 'silent' });
const minute = Date.UTC(2026, 0, 1, 12, 0);

function recorderAt(clock: { now: number }, write: (entries: StatsEntry[]) => Promise<void> = async () => {}) {
  return createRequestStatsRecorder({ write, log, now: () => clock.now });
}

describe('latency buckets', () => {
  it('end with +Inf and put a duration in the first bucket it does not exceed', () => {
    expect(latencyBoundsMs.at(-1)).toBe(Infinity);
    expect(latencyBucketIndex(0)).toBe(0);
    expect(latencyBucketIndex(1)).toBe(0);
    expect(latencyBucketIndex(1.01)).toBe(1);
    expect(latencyBucketIndex(100)).toBe(latencyBoundsMs.indexOf(100));
    expect(latencyBucketIndex(10_000)).toBe(latencyBoundsMs.indexOf(10_000));
    expect(latencyBucketIndex(10_001)).toBe(latencyBoundsMs.length - 1);
  });

  it('become cumulative for storage', () => {
    expect(cumulative([1, 0, 2, 3])).toEqual([1, 1, 3, 6]);
  });
});

describe('the request statistics recorder', () => {
  it('aggregates by minute, function, method and route with error classes and latency buckets', () => {
    const clock = { now: minute + 5_000 };
    const recorder = recorderAt(clock);
    recorder.record('a', 'GET', '/x', 200, 0.5);
    recorder.record('a', 'GET', '/x', 404, 3);
    recorder.record('a', 'GET', '/x', 500, 30);
    clock.now = minute + 59_999;
    recorder.record('a', 'GET', '/x', 201, 20_000);
    recorder.record('a', 'POST', '/x', 200, 1);
    clock.now = minute + 60_000;
    recorder.record('a', 'GET', '/x', 200, 1);

    const pending = recorder.pending();
    expect(pending).toHaveLength(3);
    const first = pending.find((entry) => entry.bucketStart === minute && entry.method === 'GET');
    const counts = new Array<number>(latencyBoundsMs.length).fill(0);
    counts[latencyBucketIndex(0.5)] = 1;
    counts[latencyBucketIndex(3)] = 1;
    counts[latencyBucketIndex(30)] = 1;
    counts[latencyBoundsMs.length - 1] = 1;
    expect(first).toEqual({
      bucketStart: minute,
      function: 'a',
      method: 'GET',
      route: '/x',
      requests: 4,
      clientErrors: 1,
      serverErrors: 1,
      durationMsSum: 20_033.5,
      latencyCounts: counts,
      lastSeen: minute + 59_999,
      // The process's first request of function a: its cold start.
      processStarts: 1,
    });
    expect(pending.find((entry) => entry.bucketStart === minute + 60_000)?.requests).toBe(1);
  });

  it("counts one cold start per function per process, on that function's first request only", () => {
    const clock = { now: minute };
    const recorder = recorderAt(clock);
    recorder.record('a', 'GET', '/x', 200, 1);
    recorder.record('a', 'GET', '/y', 200, 1);
    recorder.record('b', 'GET', '/z', 200, 1);
    clock.now = minute + 60_000;
    recorder.record('a', 'GET', '/x', 200, 1);
    const starts = recorder.pending().map((entry) => [entry.function, entry.route, entry.bucketStart - minute, entry.processStarts]);
    expect(starts).toEqual([
      ['a', '/x', 0, 1],
      ['a', '/y', 0, 0],
      ['b', '/z', 0, 1],
      ['a', '/x', 60_000, 0],
    ]);
    // A second process (another instance, or a restart) starts cold again.
    const restarted = recorderAt(clock);
    restarted.record('a', 'GET', '/x', 200, 1);
    expect(restarted.pending()[0]?.processStarts).toBe(1);
  });

  it('writes everything once, and clears it', async () => {
    const writes: StatsEntry[][] = [];
    const recorder = recorderAt({ now: minute }, async (entries) => {
      writes.push(entries);
    });
    recorder.record('a', 'GET', '/x', 200, 1);
    recorder.record('a', 'GET', '/y', 200, 1);
    await recorder.flush();
    await recorder.flush();
    expect(writes).toHaveLength(1);
    expect(writes[0]?.map((entry) => entry.route).sort()).toEqual(['/x', '/y']);
    expect(recorder.pending()).toEqual([]);
  });

  it('keeps a failed write and merges it with what arrived meanwhile, without rejecting', async () => {
    let fail = true;
    const written: StatsEntry[] = [];
    const recorder = recorderAt({ now: minute }, async (entries) => {
      if (fail) throw new Error('database down');
      written.push(...entries);
    });
    recorder.record('a', 'GET', '/x', 500, 1);
    recorder.record('a', 'GET', '/x', 200, 1);
    await expect(recorder.flush()).resolves.toBeUndefined();
    recorder.record('a', 'GET', '/x', 404, 1);
    expect(recorder.pending()).toHaveLength(1);
    fail = false;
    await recorder.close();
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ requests: 3, clientErrors: 1, serverErrors: 1 });
    expect(written[0]?.latencyCounts[0]).toBe(3);
  });

  it('counts a request finishing during a write in the next flush, not the current one', async () => {
    let release: () => void = () => {};
    const written: number[] = [];
    const recorder = recorderAt({ now: minute }, async (entries) => {
      written.push(entries.reduce((sum, entry) => sum + entry.requests, 0));
      await new Promise<void>((resolve) => (release = resolve));
    });
    recorder.record('a', 'GET', '/x', 200, 1);
    const flushing = recorder.flush();
    await Promise.resolve();
    await Promise.resolve();
    recorder.record('a', 'GET', '/x', 200, 1);
    const closing = recorder.close();
    release();
    await flushing;
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    await closing;
    expect(written).toEqual([1, 1]);
  });
});
