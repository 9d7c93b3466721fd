import { describe, expect, it } from 'vitest';
import { deferUntilFirstAnswer } from './deferred-start.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('deferUntilFirstAnswer', () => {
  it('runs the work once, after the first answer settled, not before', async () => {
    let runs = 0;
    const deferred = deferUntilFirstAnswer(() => (runs += 1), 60_000);
    deferred.listening();
    let answer: (value: string) => void = () => undefined;
    deferred.answered(new Promise<string>((resolve) => (answer = resolve)));
    await turn();
    await turn();
    expect(runs).toBe(0);
    expect(deferred.pending).toBe(true);
    answer('pong 1');
    await turn();
    await turn();
    expect(runs).toBe(1);
    expect(deferred.pending).toBe(false);
    deferred.answered(Promise.resolve('pong 2'));
    await turn();
    await turn();
    expect(runs).toBe(1);
  });

  it('a failed answer counts as an answer', async () => {
    let runs = 0;
    const deferred = deferUntilFirstAnswer(() => (runs += 1), 60_000);
    deferred.answered(Promise.reject(new Error('database down')));
    await turn();
    await turn();
    expect(runs).toBe(1);
  });

  it('runs after the idle time when no request comes', async () => {
    let runs = 0;
    const deferred = deferUntilFirstAnswer(() => (runs += 1), 20);
    deferred.listening();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(runs).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(runs).toBe(1);
  });
});
