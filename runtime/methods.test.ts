import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import pingpong from '../functions/pingpong/index.ts';
import { buildTestApp } from '../test/support/app.ts';
import type { TestApp } from '../test/support/app.ts';
import type { AppEnv } from './define-function.ts';
import { allowedMethods, changesState } from './methods.ts';

describe('HEAD and methods a path does not take', () => {
  let test: TestApp;
  let single: TestApp;
  let sink: Server;
  let published = 0;
  let env: { sink: string };
  beforeAll(async () => {
    // `npm start`: every function on one port; a container: one function answering every path.
    test = await buildTestApp([...allFunctions]);
    single = await buildTestApp([pingpong]);
    sink = createServer((request, response) => {
      published += 1;
      request.resume();
      request.on('end', () => response.writeHead(202).end());
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    env = { sink: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/` };
  });
  afterAll(async () => {
    sink.close();
    await test.close();
    await single.close();
  });

  const count = async (app: TestApp) => Number(await (await app.app.request('/pings')).text());

  it('answers HEAD /pingpong 405 (Allow: GET) without taking a number', async () => {
    for (const app of [test, single]) {
      const head = await app.app.request('/pingpong', { method: 'HEAD' });
      expect([head.status, head.headers.get('Allow'), await head.text()]).toEqual([405, 'GET', '']);
    }
    expect(await count(test)).toBe(0);
    // A GET takes the first number on each database: neither HEAD took one.
    expect(await (await test.app.request('/pingpong')).text()).toBe('pong 1');
    expect(await (await single.app.request('/pingpong')).text()).toBe('pong 1');
  });

  it('answers HEAD /save?data=x 405 (Allow: GET, POST) without publishing', async () => {
    const head = await test.app.request('/save?data=x', { method: 'HEAD' }, env);
    expect([head.status, head.headers.get('Allow')]).toEqual([405, 'GET, POST']);
    expect(published).toBe(0);
    expect((await test.app.request('/save?data=x', {}, env)).status).toBe(202);
    expect(published).toBe(1);
  });

  it('answers HEAD on a reading GET as GET would, without the body', async () => {
    const head = await test.app.request('/pings', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await head.text()).toBe('');
  });

  it('answers a method the path does not take 405 in the JSON shape, with the methods it does take', async () => {
    const cases: [TestApp, string, string, string][] = [
      [test, 'DELETE', '/pingpong', 'GET'],
      [single, 'POST', '/pingpong', 'GET'],
      [test, 'PUT', '/save', 'GET, POST'],
      [test, 'POST', '/pings', 'GET, HEAD'],
      [test, 'POST', '/api/locations/tokyo', 'GET, HEAD, PUT, PATCH, DELETE'],
      [test, 'DELETE', '/api/locations', 'POST, GET, HEAD'],
    ];
    for (const [app, method, path, allow] of cases) {
      const response = await app.app.request(path, { method });
      expect([method, path, response.status, response.headers.get('Allow')]).toEqual([method, path, 405, allow]);
      expect(await response.json()).toEqual({ error: { code: 'method_not_allowed', message: `${method} is not allowed on ${path}; allowed: ${allow}` } });
    }
  });

  it('keeps an unknown path a 404, on the shared port and in a container', async () => {
    for (const [app, path] of [[test, '/nope'], [single, '/pings'], [single, '/pingpong/extra']] as const) {
      const response = await app.app.request(path, { method: 'DELETE' });
      expect([path, response.status, response.headers.get('Allow')]).toEqual([path, 404, null]);
    }
  });
});

describe('allowedMethods', () => {
  it('reads the methods off the routes, leaving HEAD out where GET changes state and any method to all()', () => {
    const app = new Hono<AppEnv>()
      .use('/items/*', async (_c, next) => next())
      .get('/items', (c) => c.json([]))
      .post('/items', (c) => c.json({}, 201))
      .get('/items/:id/touch', changesState, (c) => c.body(null, 204))
      .all('/any', (c) => c.body(null));
    const methodsOn = allowedMethods(app);
    expect(methodsOn('/items')).toEqual(['GET', 'HEAD', 'POST']);
    expect(methodsOn('/items/7/touch')).toEqual(['GET']);
    expect(methodsOn('/any')).toBeUndefined();
    expect(methodsOn('/other')).toEqual([]);
  });

  it('refuses HEAD in changesState itself when an app runs without the runtime', async () => {
    const app = new Hono<AppEnv>().get('/touch', changesState, (c) => c.text('touched'));
    expect((await app.request('/touch', { method: 'HEAD' })).status).toBe(405);
    expect(await (await app.request('/touch')).text()).toBe('touched');
  });
});
