import { Hono } from 'hono';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { nextPong } from './counter.ts';

export default defineFunction({
  name: 'pingpong',
  description: 'GET /pingpong answers `pong N`, N committed to the counter before the reply.',
  scale: { min: 0, max: 10, target: 100 },
  app: new Hono<AppEnv>().get('/pingpong', async (c) => c.text(`pong ${await nextPong(c.get('db'))}`)),
});
