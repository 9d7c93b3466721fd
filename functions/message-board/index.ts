import { Hono } from 'hono';
import { accepts } from 'hono/accepts';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { parseInput } from '../../runtime/validate.ts';
import * as z from '../../runtime/zod.ts';
import { templateSchema } from '../save/message.ts';
import { cursorPattern, decodeCursor } from './cursor.ts';
import { homePage } from './home-page.ts';
import { contentSecurityPolicy } from './layout.ts';
import { listMessages } from './list.ts';
import { viewPage } from './view-page.ts';

const homeQuery = z.object({ template: templateSchema });

const viewQuery = z.object({
  template: templateSchema,
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 20),
  cursor: z.optional(z.string().check(z.regex(cursorPattern, 'not a cursor from a previous page'))),
});

const app = new Hono<AppEnv>()
  .get('/', (c) => {
    const { template } = parseInput(homeQuery, c.req.query(), 'query');
    c.header('Content-Security-Policy', contentSecurityPolicy);
    return c.html(homePage(template));
  })
  .get('/view', async (c) => {
    const { template, limit, cursor } = parseInput(viewQuery, c.req.query(), 'query');
    const page = await listMessages(c.var.db, limit, cursor === undefined ? undefined : decodeCursor(cursor));
    const type = accepts(c, { header: 'Accept', supports: ['text/html', 'application/json'], default: 'text/html' });
    if (type === 'application/json') return c.json(page);
    c.header('Content-Security-Policy', contentSecurityPolicy);
    return c.html(viewPage(template, limit, page));
  });

export default defineFunction({
  name: 'message-board',
  description: 'GET / is the form to write a message; GET /view lists saved messages newest first (HTML or JSON).',
  scale: { min: 0, max: 10, target: 100 },
  // The board's query, not the static form: a canary is judged on its database path too.
  probe: { method: 'GET', path: '/view' },
  docs: [
    { route: 'GET /', answer: 'a page with a form to save a message and a link to the board' },
    {
      route: 'GET /view?template=default|space&limit=&cursor=',
      answer: 'saved messages newest first, HTML (escaped) or JSON for `Accept: application/json`',
    },
  ],
  app,
});
