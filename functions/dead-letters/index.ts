import { Hono } from 'hono';
import type { Context } from 'hono';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { readDeadLetter } from './dead-letter.ts';
import { storeDeadLetter } from './store.ts';

async function keep(c: Context<AppEnv>): Promise<Response> {
  const letter = readDeadLetter(Object.fromEntries(c.req.raw.headers), await c.req.text());
  // A database outage throws before the 2xx: the broker retries the dead letter too.
  await storeDeadLetter(c.var.db, letter);
  return c.body(null, 204);
}

export default defineFunction({
  name: 'dead-letters',
  description: 'Stores CloudEvents the broker gave up on in dead_letters, once per event id, for npm run replay-dead-letters.',
  scale: { min: 0, max: 2, target: 50 },
  // The Broker's and the Trigger's deadLetterSink (knative/500-eventing.yaml); locally, the local broker.
  internal: true,
  // Not a CloudEvent: refused (400) before anything is stored.
  probe: { method: 'POST', path: '/_events/dead-letter', body: '{}' },
  docs: [
    {
      route: 'POST /_events/dead-letter',
      answer: 'the dead-letter sink: stores a CloudEvent the broker gave up on in `dead_letters`, once per event id; 204; `npm run replay-dead-letters` re-publishes them',
    },
  ],
  app: new Hono<AppEnv>().post('/_events/dead-letter', keep),
});
