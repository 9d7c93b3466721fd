import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { defineFunction } from './define-function.ts';
import type { AppEnv } from './define-function.ts';
import { assertDistinctRoutes, publicRoutes } from './gateway/public-routes.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createReadiness } from './readiness.ts';
import { createServerApp } from './server-app.ts';

const scale = { min: 0, max: 1, target: 1 };

describe('defineFunction', () => {
  it("reads the routes off the app's handlers, so the shared port serves what the container serves", async () => {
    const hello = defineFunction({
      name: 'hello',
      description: 'greets',
      scale,
      usesDatabase: false,
      app: new Hono<AppEnv>().get('/hello/:name', (c) => c.text(`hello ${c.req.param('name')}`)),
    });
    expect(hello.routes).toEqual(['/hello/:name']);
    const app = createServerApp({
      functions: [hello],
      database: undefined,
      log: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
      readiness: createReadiness(undefined, 1000),
    });
    const answer = await app.request('/hello/bob');
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe('hello bob');
  });

  it('takes each path once, mounted sub-apps included, and no path from middleware', () => {
    const items = new Hono<AppEnv>().get('/:id', (c) => c.text('item')).put('/:id', (c) => c.text('put'));
    const app = new Hono<AppEnv>()
      .use('/api/*', async (_c, next) => next())
      .get('/api/items', (c) => c.text('list'))
      .post('/api/items', (c) => c.text('created'))
      .route('/api/items', items);
    expect(defineFunction({ name: 'items', description: 'items', scale, app }).routes).toEqual(['/api/items', '/api/items/:id']);
  });

  it('refuses an app without a handler, saying how to add one', () => {
    const app = new Hono<AppEnv>().use(async (_c, next) => next());
    expect(() => defineFunction({ name: 'empty', description: 'nothing', scale, app })).toThrow(
      `function "empty" has no routes: give its app a handler, e.g. app.get('/empty', ...)`,
    );
  });

  it('keeps internal functions out of the public routes', () => {
    const worker = defineFunction({ name: 'worker', description: 'w', scale, internal: true, app: new Hono<AppEnv>().post('/_events/x', (c) => c.body(null, 204)) });
    const board = defineFunction({ name: 'board', description: 'b', scale, app: new Hono<AppEnv>().get('/', (c) => c.text('board')).get('/view', (c) => c.text('view')) });
    expect(worker.internal).toBe(true);
    expect(board.internal).toBe(false);
    expect(publicRoutes([worker, board])).toEqual([
      { path: '/', function: 'board' },
      { path: '/view', function: 'board' },
    ]);
  });

  it('refuses two functions on one route, naming both', () => {
    const first = defineFunction({ name: 'first', description: 'a', scale, app: new Hono<AppEnv>().get('/same', (c) => c.text('a')) });
    const second = defineFunction({ name: 'second', description: 'b', scale, app: new Hono<AppEnv>().post('/same', (c) => c.text('b')) });
    expect(() => assertDistinctRoutes([first, second])).toThrow('functions "first" and "second" both declare the route /same');
  });

  it('scales to zero, at most 10 instances aiming at 100 requests each, unless declared', () => {
    const app = new Hono<AppEnv>().get('/s', (c) => c.text('s'));
    expect(defineFunction({ name: 'plain', description: 'p', app }).scale).toEqual({ min: 0, max: 10, target: 100 });
    expect(defineFunction({ name: 'capped', description: 'c', scale: { max: 3 }, app }).scale).toEqual({ min: 0, max: 3, target: 100 });
    expect(() => defineFunction({ name: 'bad', description: 'b', scale: { min: 5, max: 2 }, app })).toThrow('function "bad" has an invalid scale (min 5, max 2, target 100)');
  });

  it('takes docs that cover every method and path of the app, and refuses others', () => {
    const app = new Hono<AppEnv>()
      .get('/api/items', (c) => c.text('list'))
      .get('/api/items/:id', (c) => c.text('item'))
      .delete('/api/items/:id', (c) => c.body(null, 204));
    const docs = [
      { route: 'GET /api/items?limit=', answer: 'a page' },
      { route: 'GET DELETE /api/items/:id', answer: 'the item / 204' },
    ];
    expect(defineFunction({ name: 'items', description: 'i', docs, app }).docs).toEqual(docs);
    expect(() => defineFunction({ name: 'items', description: 'i', docs: [{ route: 'GET /api/items', answer: 'a page' }], app })).toThrow(
      'function "items" has docs without GET /api/items/:id, DELETE /api/items/:id: document every route, or none',
    );
    expect(() => defineFunction({ name: 'items', description: 'i', docs: [...docs, { route: 'POST /api/items', answer: 'x' }], app })).toThrow(
      'function "items" documents POST /api/items, which its app does not handle',
    );
    expect(() => defineFunction({ name: 'items', description: 'i', docs: [{ route: '/api/items', answer: 'x' }], app })).toThrow(
      /documents the route "\/api\/items": write the methods, then the path/,
    );
  });
});
