import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cachedDataVersionTag } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compactWhenIdle, exposeGc, honoursLastResortFlavour } from './idle-compaction.ts';
import { createLogger } from './logger.ts';
import type { LogEntry } from './logger.ts';

function recordingGc() {
  const calls: Parameters<NodeJS.GCFunction>[] = [];
  const gc = ((...args: Parameters<NodeJS.GCFunction>) => {
    calls.push(args);
  }) as NodeJS.GCFunction;
  return { gc, calls };
}

const silent = createLogger({ level: 'silent' });

describe('compactWhenIdle', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('compacts once, with the flavour that shrinks the young generation, after a quiet window', () => {
    const { gc, calls } = recordingGc();
    const compaction = compactWhenIdle({ log: silent, gc, quietMs: 1000 });
    compaction.arm();
    vi.advanceTimersByTime(999);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual([[{ type: 'major', execution: 'sync', flavor: 'last-resort' }]]);
    compaction.arm();
    vi.advanceTimersByTime(10_000);
    expect(calls).toHaveLength(1);
  });

  it('waits while requests keep arriving, and compacts in the first window without one', () => {
    const { gc, calls } = recordingGc();
    const compaction = compactWhenIdle({ log: silent, gc, quietMs: 1000 });
    compaction.arm();
    for (let second = 0; second < 5; second += 1) {
      vi.advanceTimersByTime(500);
      compaction.request();
      vi.advanceTimersByTime(500);
    }
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(calls).toHaveLength(1);
  });

  it('does nothing before start-up work is done, or after it was stopped', () => {
    const { gc, calls } = recordingGc();
    compactWhenIdle({ log: silent, gc, quietMs: 1000 });
    vi.advanceTimersByTime(5000);
    const stopped = compactWhenIdle({ log: silent, gc, quietMs: 1000 });
    stopped.arm();
    stopped.stop();
    vi.advanceTimersByTime(5000);
    expect(calls).toEqual([]);
  });

  it('without a gc (V8 11, Node 20) sets no timer at all', () => {
    const compaction = compactWhenIdle({ log: silent, gc: undefined, quietMs: 1000 });
    compaction.arm();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('says at debug level how long it took and what it gave back', () => {
    const lines: LogEntry[] = [];
    const log = createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as LogEntry) });
    const compaction = compactWhenIdle({ log, gc: recordingGc().gc, quietMs: 10 });
    compaction.arm();
    vi.advanceTimersByTime(10);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'debug',
        msg: 'heap compacted after start-up',
        ms: expect.any(Number),
        rssMib: { before: expect.any(Number), after: expect.any(Number) },
      }),
    ]);
  });
});

describe('honoursLastResortFlavour', () => {
  it("is V8 12 and later, Node 22's V8, not Node 20's", () => {
    expect(honoursLastResortFlavour('11.3.244.8-node.33')).toBe(false);
    expect(honoursLastResortFlavour('12.4.254.21-node.33')).toBe(true);
    expect(honoursLastResortFlavour('13.6.233.10-node.28')).toBe(true);
  });
});

describe('exposeGc', () => {
  it("hands over V8's gc and leaves the flags as they were, so built-ins keep their code cache", () => {
    const tag = cachedDataVersionTag();
    const gc = exposeGc();
    expect(cachedDataVersionTag()).toBe(tag);
    expect(runInNewContext('typeof gc')).toBe('undefined');
    expect(typeof gc).toBe('function');
    expect(gc({ type: 'minor', execution: 'sync' })).toBeUndefined();
  });
});
