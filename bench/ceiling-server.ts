import { serve } from '@hono/node-server';
import { Hono } from 'hono';

/** The ceiling: hello world on the same Hono + @hono/node-server stack, no database at all. */
const app = new Hono().get('/health', (c) => c.text('ok')).get('/pingpong', (c) => c.text('pong'));

serve({ fetch: app.fetch, port: Number(process.env['PORT']), hostname: '127.0.0.1' });
