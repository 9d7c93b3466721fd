import { serve } from '@hono/node-server';
import { Hono } from 'hono';

/** Hono's hello world on the same server stack as the product (@hono/node-server), no database at all. */
const app = new Hono().get('/', (c) => c.text('ok')).get('/health', (c) => c.text('ok'));

serve({ fetch: app.fetch, port: Number(process.env['PORT']), hostname: '127.0.0.1' });
