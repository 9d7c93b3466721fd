import { Hono } from 'hono';
import type { Context } from 'hono';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { readMessageEvent } from './event.ts';
import { storeMessage } from './store.ts';

async function consume(c: Context<AppEnv>): Promise<Response> {
  const event = readMessageEvent(Object.fromEntries(c.req.raw.headers), await c.req.text());
  // A database outage throws before the 2xx, so the runtime's 503 makes the broker retry.
  await storeMessage(c.var.db, event);
  return c.body(null, 204);
}

export default defineFunction({
  name: 'message-worker',
  description: 'Consumes dev.knfn.message.saved CloudEvents and stores each message once.',
  scale: { min: 0, max: 10, target: 50 },
  // Only the Trigger (knative/500-eventing.yaml, subscriber uri /_events/message) calls it.
  internal: true,
  // Not a CloudEvent: refused (400) before anything is stored.
  probe: { method: 'POST', path: '/_events/message', body: '{}' },
  docs: [
    {
      route: 'POST /_events/message',
      answer: 'the Trigger\'s subscriber: stores a `dev.knfn.message.saved` event (binary or structured) once per event id; 204; 503 while the database is down so the broker retries',
    },
  ],
  app: new Hono<AppEnv>().post('/_events/message', consume),
});
