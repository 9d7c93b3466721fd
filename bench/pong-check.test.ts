import { describe, expect, it } from 'vitest';
import { pongProblem } from './pong-check.ts';

const clean = { non2xx: 0, socketErrors: 0, unanswered: 0 };
const pongs = (unique: number, lowest: number, highest: number, duplicates = 0) => ({ unique, duplicates, lowest, highest, malformed: 0 });

describe('pongProblem', () => {
  it('accepts numbers that are exactly the counter movement', () => {
    expect(pongProblem({ ...clean, pongs: pongs(100, 41, 140) }, 40, 140)).toBeUndefined();
  });

  it('reports a number committed and never answered (a gap)', () => {
    expect(pongProblem({ ...clean, pongs: pongs(99, 41, 140) }, 40, 140)).toBe('answered 99 numbers 41..140, the counter moved 40..140');
  });

  it('reports a number answered twice', () => {
    expect(pongProblem({ ...clean, pongs: pongs(100, 41, 140, 1) }, 40, 140)).toBe('1 numbers answered twice');
  });

  it('reports numbers outside what the counter moved over', () => {
    expect(pongProblem({ ...clean, pongs: pongs(100, 40, 139) }, 40, 140)).toBe('answered 100 numbers 40..139, the counter moved 40..140');
  });

  it('reports errors even when the numbers agree', () => {
    expect(pongProblem({ ...clean, non2xx: 2, pongs: pongs(100, 41, 140) }, 40, 140)).toBe('2 non-2xx, 0 socket errors, 0 unanswered');
  });
});
