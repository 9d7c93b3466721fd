import { Hono } from 'hono';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { changesState } from '../../runtime/methods.ts';
import { nextPong } from './counter.ts';

export default defineFunction({
  name: 'pingpong',
  description: 'GET /pingpong answers `pong N`, N committed to the counter before the reply.',
  scale: { min: 0, max: 10, target: 100 },
  // The coalescer keeps two counter statements in flight; the third connection serves readiness
  // and the size gauge without queueing behind them.
  poolMax: 3,
  // Every GET takes a number, so a canary's load test spends pongs: the counter counts every pong
  // served, the load tester's too. Without load a quiet canary has no data and is rolled back.
  probe: { method: 'GET', path: '/pingpong' },
  docs: [
    {
      route: 'GET /pingpong',
      answer: '`pong N` — N is committed to `ping_count` before the reply; concurrent requests get unique, gap-free numbers',
    },
  ],
  // A HEAD must not take a number: it is answered 405 (Allow: GET).
  app: new Hono<AppEnv>().get('/pingpong', changesState, async (c) => c.text(`pong ${await nextPong(c.get('db'), c.get('deadline'))}`)),
});
