import { afterAll, beforeAll, expect, it } from 'vitest';
import pingpong from '../functions/pingpong/index.ts';
import { buildTestApp } from '../test/support/app.ts';
import type { TestApp } from '../test/support/app.ts';

// A container serves one function: the runtime's own endpoints are still the runtime's, every
// other request is the function's, whatever its method or path.
let single: TestApp;
beforeAll(async () => {
  single = await buildTestApp([pingpong]);
});
afterAll(() => single.close());

it('answers its health and metrics endpoints itself, HEAD too', async () => {
  expect(await (await single.app.request('/health')).json()).toEqual({ status: 'ok' });
  expect(await (await single.app.request('/health/readiness')).json()).toEqual({ status: 'ready' });
  expect((await single.app.request('/metrics')).headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const head = await single.app.request('/health/liveness', { method: 'HEAD' });
  expect([head.status, head.headers.get('X-Request-Id')]).toEqual([200, null]);
});

it('hands every other request to the function, with what the runtime gives it', async () => {
  const post = await single.app.request('/health', { method: 'POST' });
  expect([post.status, post.headers.get('X-Request-Id')?.length]).toEqual([404, 36]);
  const other = await single.app.request('/metrics/extra?x=1');
  expect([other.status, (await other.json()) as unknown]).toEqual([404, { error: { code: 'not_found', message: 'no route for GET /metrics/extra' } }]);
  expect(await (await single.app.request('/pingpong')).text()).toBe('pong 1');
});
