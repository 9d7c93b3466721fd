import { Hono } from 'hono';
import type { Context } from 'hono';
import { accepts } from 'hono/accepts';
import { defineFunction, runtimeBindings } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { ApiError } from '../../runtime/errors.ts';
import { changesState } from '../../runtime/methods.ts';
import { parseInput, readJsonBody } from '../../runtime/validate.ts';
import { idempotencyKeyHeader, messageIdForKey, readIdempotencyKey } from './idempotency.ts';
import { messageSchema } from './message.ts';
import type { Message } from './message.ts';
import { publishMessage } from './publish.ts';

const formTypes = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

async function readFormBody(c: Context<AppEnv>): Promise<unknown> {
  try {
    return await c.req.parseBody();
  } catch {
    throw new ApiError(400, 'invalid_body', 'body is not a valid form (check the multipart boundary)');
  }
}

/**
 * Publishes under the client's Idempotency-Key when it sent one: the same key is the same event
 * id, so a retry after any answer (a 503 included) stores the message once. The key is checked
 * before the body so a bad key is refused whatever the body holds.
 */
function publish(c: Context<AppEnv>, key: string | undefined, message: Message): Promise<string> {
  return publishMessage(runtimeBindings(c).sink, message, key === undefined ? undefined : messageIdForKey(key));
}

const keyOf = (c: Context<AppEnv>) => readIdempotencyKey(c.req.header(idempotencyKeyHeader));

const app = new Hono<AppEnv>()
  // Publishes, so a HEAD must not: it is answered 405 (Allow: GET, POST).
  .get('/save', changesState, async (c) => {
    const key = keyOf(c);
    const message = parseInput(messageSchema, c.req.query(), 'query');
    return c.json({ id: await publish(c, key, message) }, 202);
  })
  .post('/save', async (c) => {
    const key = keyOf(c);
    const isForm = formTypes.test(c.req.header('content-type') ?? '');
    const body = isForm ? await readFormBody(c) : await readJsonBody(c);
    const message = parseInput(messageSchema, body, 'body');
    const id = await publish(c, key, message);
    // A browser's form post lands on the board, where the message shows once the worker stored it.
    const wantsPage = isForm && accepts(c, { header: 'Accept', supports: ['application/json', 'text/html'], default: 'application/json' }) === 'text/html';
    if (wantsPage) return c.redirect(`/view?template=${message.template}`, 303);
    return c.json({ id }, 202);
  });

export default defineFunction({
  name: 'save',
  description: 'GET/POST /save validates a message and publishes it as a CloudEvent to K_SINK; 202 {id} once accepted; an Idempotency-Key makes retries store it once.',
  scale: { min: 0, max: 10, target: 100 },
  auth: 'all',
  // An empty message is refused (400) after the body is parsed and validated: nothing is published.
  probe: { method: 'POST', path: '/save', body: '{}' },
  usesDatabase: false,
  docs: [
    {
      route: 'GET /save?data=&template=default|space',
      answer:
        'validates, publishes a CloudEvent (binary mode) to `K_SINK`; 202 `{id}` once the sink accepted it, else 503 (see "Saving a message" below); ' +
        'an optional `Idempotency-Key` header makes retries store it once; a bad key (over 128 characters, not printable ASCII) 400 `invalid_idempotency_key`',
    },
    { route: 'POST /save', answer: 'the same with a form or JSON body; a browser form post is redirected to `/view`' },
  ],
  app,
});
