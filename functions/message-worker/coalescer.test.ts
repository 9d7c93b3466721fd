import { describe, expect, it } from 'vitest';
import { createCoalescer } from './coalescer.ts';

/** A statement the test settles by hand, recording what each one held. */
function controlledWrites() {
  const statements: Array<{ items: readonly string[]; commit(): void; fail(error: unknown): void }> = [];
  const writeAll = (items: readonly string[]) =>
    new Promise<void>((resolve, reject) => {
      statements.push({ items, commit: resolve, fail: reject });
    });
  return { statements, writeAll };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createCoalescer', () => {
  it('puts the writes of one event-loop turn in one statement, and resolves each once it committed', async () => {
    const { statements, writeAll } = controlledWrites();
    const write = createCoalescer(writeAll);
    const settled: string[] = [];
    const writes = ['a', 'b', 'c'].map((item) => write(item).then(() => settled.push(item)));
    await tick();
    expect(statements.map((statement) => statement.items)).toEqual([['a', 'b', 'c']]);
    expect(settled).toEqual([]);
    statements[0]?.commit();
    await Promise.all(writes);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('gathers the writes that arrive while every slot is busy into the next statement', async () => {
    const { statements, writeAll } = controlledWrites();
    const write = createCoalescer(writeAll, { maxInFlight: 1 });
    const first = write('a');
    await tick();
    const later = ['b', 'c', 'd'].map((item) => write(item));
    await tick();
    expect(statements.map((statement) => statement.items)).toEqual([['a']]);
    statements[0]?.commit();
    await first;
    await tick();
    expect(statements.map((statement) => statement.items)).toEqual([['a'], ['b', 'c', 'd']]);
    statements[1]?.commit();
    await Promise.all(later);
  });

  it('splits a burst larger than maxBatch', async () => {
    const { statements, writeAll } = controlledWrites();
    const write = createCoalescer(writeAll, { maxBatch: 2, maxInFlight: 3 });
    const writes = ['a', 'b', 'c', 'd', 'e'].map((item) => write(item));
    await tick();
    expect(statements.map((statement) => statement.items)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    for (const statement of statements) statement.commit();
    await Promise.all(writes);
  });

  it('fails every write of a statement that failed whole (the database is down), and tries the next batch afresh', async () => {
    const { statements, writeAll } = controlledWrites();
    const write = createCoalescer(writeAll, { maxInFlight: 1, failsWhole: () => true });
    const down = new Error('connection refused');
    const outcomes = ['a', 'b'].map((item) => write(item).then(() => 'stored', (error: unknown) => error));
    await tick();
    statements[0]?.fail(down);
    expect(await Promise.all(outcomes)).toEqual([down, down]);
    const retried = write('a');
    await tick();
    expect(statements.map((statement) => statement.items)).toEqual([['a', 'b'], ['a']]);
    statements[1]?.commit();
    await expect(retried).resolves.toBeUndefined();
  });

  it('retries item by item when the database refused the statement, so only the bad item fails', async () => {
    const refused = new Error('value too long');
    const attempts: string[][] = [];
    const write = createCoalescer<string>(
      async (items) => {
        attempts.push([...items]);
        if (items.includes('bad')) throw refused;
      },
      { failsWhole: (error) => error !== refused },
    );
    const outcomes = await Promise.all(['a', 'bad', 'c'].map((item) => write(item).then(() => 'stored', (error: unknown) => error)));
    expect(outcomes).toEqual(['stored', refused, 'stored']);
    expect(attempts).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('fails the batch when writeAll throws synchronously, without throwing at the caller', async () => {
    const broken = new Error('bug');
    const write = createCoalescer<string>(() => {
      throw broken;
    });
    await expect(write('a')).rejects.toBe(broken);
  });
});
