import { describe, expect, it } from 'vitest';
import { deferUntilQuiet } from './deferred-start.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));
const turns = async (count = 3) => {
  for (let i = 0; i < count; i += 1) await turn();
};

function controlled(): { promise: Promise<string>; settle: (value: string) => void } {
  let settle: (value: string) => void = () => undefined;
  const promise = new Promise<string>((resolve) => (settle = resolve));
  return { promise, settle };
}

describe('deferUntilQuiet', () => {
  it('runs the work once, after a user answer settled, not before', async () => {
    let runs = 0;
    const deferred = deferUntilQuiet(() => (runs += 1), 60_000);
    deferred.listening();
    const first = controlled();
    deferred.answering(first.promise, 'user');
    await turns();
    expect(runs).toBe(0);
    expect(deferred.pending).toBe(true);
    first.settle('pong 1');
    await turns();
    expect(runs).toBe(1);
    expect(deferred.pending).toBe(false);
    deferred.answering(Promise.resolve('pong 2'), 'user');
    await turns();
    expect(runs).toBe(1);
  });

  it('readiness probes and scrapes do not start it: the requests let through after them come first', async () => {
    let runs = 0;
    const deferred = deferUntilQuiet(() => (runs += 1), 60_000);
    deferred.listening();
    deferred.answering(Promise.resolve('ready'), 'probe');
    deferred.answering(Promise.resolve('metrics'), 'probe');
    await turns();
    expect(runs).toBe(0);
    deferred.answering(Promise.resolve('pong 1'), 'user');
    await turns();
    expect(runs).toBe(1);
  });

  it('waits until the whole burst is answered, probes in flight included', async () => {
    let runs = 0;
    const deferred = deferUntilQuiet(() => (runs += 1), 60_000);
    const burst = [controlled(), controlled(), controlled()];
    const probe = controlled();
    for (const request of burst) deferred.answering(request.promise, 'user');
    deferred.answering(probe.promise, 'probe');
    burst[0]?.settle('pong 1');
    burst[1]?.settle('pong 2');
    await turns();
    expect(runs).toBe(0);
    burst[2]?.settle('pong 3');
    await turns();
    expect(runs).toBe(0);
    probe.settle('ready');
    await turns();
    expect(runs).toBe(1);
  });

  it('a request arriving in the turn before the work would run puts it off until that one is answered', async () => {
    let runs = 0;
    const deferred = deferUntilQuiet(() => (runs += 1), 60_000);
    deferred.answering(Promise.resolve('pong 1'), 'user');
    // The first answer settles in a microtask; this request arrives before the turn that would run the work.
    await Promise.resolve();
    const late = controlled();
    deferred.answering(late.promise, 'user');
    await turns();
    expect(runs).toBe(0);
    late.settle('pong 2');
    await turns();
    expect(runs).toBe(1);
  });

  it('a failed answer counts as an answer', async () => {
    let runs = 0;
    const deferred = deferUntilQuiet(() => (runs += 1), 60_000);
    deferred.answering(Promise.reject(new Error('database down')), 'user');
    await turns();
    expect(runs).toBe(1);
  });

  it('runs after the longest wait when no user request comes, or the requests never pause', async () => {
    let runs = 0;
    const deferred = deferUntilQuiet(() => (runs += 1), 20);
    deferred.listening();
    deferred.answering(new Promise(() => undefined), 'user');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(runs).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(runs).toBe(1);
  });
});
