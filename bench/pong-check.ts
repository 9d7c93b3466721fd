import type { WrkRun } from './wrk.ts';

/**
 * Why the pong numbers of a run are not exactly the counter's movement, or undefined when they
 * are: each number answered once, none malformed, and together `before + 1 .. after` with no gap
 * (a number committed and never served) and nothing outside it. With no request left in flight
 * (bench/wrk-script.ts), any gap is a real one.
 */
export function pongProblem(
  run: Pick<WrkRun, 'pongs' | 'non2xx' | 'socketErrors' | 'unanswered'>,
  before: number,
  after: number,
): string | undefined {
  const pongs = run.pongs;
  if (pongs === undefined) return 'the run collected no pong numbers';
  if (pongs.duplicates > 0) return `${pongs.duplicates} numbers answered twice`;
  if (pongs.malformed > 0) return `${pongs.malformed} answers without a number`;
  if (pongs.unique !== after - before || pongs.lowest !== before + 1 || pongs.highest !== after) {
    return `answered ${pongs.unique} numbers ${pongs.lowest}..${pongs.highest}, the counter moved ${before}..${after}`;
  }
  if (run.non2xx + run.socketErrors + run.unanswered > 0) {
    return `${run.non2xx} non-2xx, ${run.socketErrors} socket errors, ${run.unanswered} unanswered`;
  }
  return undefined;
}
