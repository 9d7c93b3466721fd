import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineClock, RequestDeadline } from './request-deadline.ts';
import type { DeadlineWatcher } from './request-deadline.ts';

function recorder(name: string, log: string[]): DeadlineWatcher {
  return { deadlinePassed: (reason) => log.push(`${name}: ${reason.message}`) };
}

describe('RequestDeadline', () => {
  it('tells each watcher still watching once, then the runtime, and aborts its signal with the same reason', () => {
    const log: string[] = [];
    const deadline = new RequestDeadline((reason) => log.push(`runtime: ${reason.message}`));
    const before = deadline.signal;
    const [a, b, c] = [recorder('a', log), recorder('b', log), recorder('c', log)];
    deadline.watch(a);
    deadline.watch(b);
    deadline.watch(c);
    deadline.unwatch(b);
    const late = new Error('too late');
    deadline.expire(late);
    deadline.expire(new Error('again'));
    expect(log).toEqual(['a: too late', 'c: too late', 'runtime: too late']);
    expect(deadline.expired).toBe(true);
    expect(deadline.reason).toBe(late);
    expect(before.aborted).toBe(true);
    expect(before.reason).toBe(late);
    // A signal first asked for after expiry is born aborted.
    const after = new RequestDeadline();
    after.expire(late);
    expect(after.signal.aborted).toBe(true);
    expect(after.signal.reason).toBe(late);
  });

  it('forgets a single watcher that unwatched', () => {
    const log: string[] = [];
    const deadline = new RequestDeadline();
    const a = recorder('a', log);
    deadline.watch(a);
    deadline.unwatch(a);
    deadline.expire(new Error('late'));
    expect(log).toEqual([]);
  });
});

describe('DeadlineClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires deadlines in the order they started, each its own time after its start, with one timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const expired: string[] = [];
    const clock = new DeadlineClock(100, () => new Error('deadline'));
    const make = (name: string) => new RequestDeadline(() => expired.push(`${name}@${Math.round(performance.now())}`));
    const [answeredFirst, first, answered, second, third] = [make('answeredFirst'), make('first'), make('answered'), make('second'), make('third')];
    clock.start(answeredFirst);
    await vi.advanceTimersByTimeAsync(10);
    clock.start(first);
    clock.start(answered);
    await vi.advanceTimersByTimeAsync(30);
    clock.start(second);
    // The oldest and one in the middle are answered in time.
    clock.stop(answeredFirst);
    clock.stop(answered);
    clock.stop(answered);
    await vi.advanceTimersByTimeAsync(30);
    clock.start(third);
    expect(vi.getTimerCount()).toBe(1);
    expect(clock.pending).toBe(3);
    await vi.advanceTimersByTimeAsync(200);
    expect(expired).toEqual(['first@110', 'second@140', 'third@170']);
    expect(answered.expired).toBe(false);
    expect(answeredFirst.expired).toBe(false);
    expect(clock.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never starts a deadline whose request was answered before it arrived in full', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const clock = new DeadlineClock(10, () => new Error('deadline'));
    const deadline = new RequestDeadline();
    clock.stop(deadline);
    clock.start(deadline);
    expect(clock.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(50);
    expect(deadline.expired).toBe(false);
  });

  it('waits again for a deadline the timer reached early on a lagging event-loop clock', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const clock = new DeadlineClock(100, () => new Error('deadline'));
    const deadline = new RequestDeadline();
    clock.start(deadline);
    // As if the start had been later than the turn the timer was scheduled in.
    deadline.expiresAt += 5;
    await vi.advanceTimersByTimeAsync(100);
    expect(deadline.expired).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(5);
    expect(deadline.expired).toBe(true);
  });
});
