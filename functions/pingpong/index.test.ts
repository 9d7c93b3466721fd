import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../../test/support/app.ts';
import type { TestApp } from '../../test/support/app.ts';
import pings from '../pings/index.ts';
import pingpong from './index.ts';

describe('pingpong on the embedded database', () => {
  let test: TestApp;
  beforeAll(async () => {
    test = await buildTestApp([pingpong, pings]);
  });
  afterAll(() => test.close());

  it('answers pong 1, then pong 2, and /pings counts them', async () => {
    expect(await (await test.app.request('/pings')).text()).toBe('0');
    const first = await test.app.request('/pingpong');
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('pong 1');
    expect(await (await test.app.request('/pingpong')).text()).toBe('pong 2');
    const text = await test.app.request('/pings');
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await text.text()).toBe('2');
    const json = await test.app.request('/pings', { headers: { Accept: 'application/json' } });
    expect(await json.json()).toEqual({ pings: 2 });
  });

  it('hands out distinct, contiguous numbers to concurrent requests', async () => {
    const before = Number(await (await test.app.request('/pings')).text());
    const answers = await Promise.all(Array.from({ length: 50 }, () => Promise.resolve(test.app.request('/pingpong')).then((r) => r.text())));
    const numbers = answers.map((answer) => Number(answer.replace('pong ', ''))).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 50 }, (_, i) => before + i + 1));
  });

  it('answers an unknown path with the JSON error shape', async () => {
    const response = await test.app.request('/pingpong/extra');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'not_found', message: 'no route for GET /pingpong/extra' } });
  });

  it('counts requests by function, route pattern and status in /metrics', async () => {
    await test.app.request('/pingpong');
    const metrics = await (await test.app.request('/metrics')).text();
    expect(metrics).toMatch(/http_requests_total\{function="pingpong",method="GET",route="\/pingpong",status="200"\} \d+/);
    expect(metrics).toMatch(/db_query_duration_seconds_count\{outcome="ok"\} [1-9]/);
    expect(metrics).toContain('db_pool_connections 1');
  });

  it('is live and ready', async () => {
    expect(await (await test.app.request('/health')).json()).toEqual({ status: 'ok' });
    const ready = await test.app.request('/health/ready');
    expect(ready.status).toBe(200);
    expect((await test.app.request('/health/readiness')).status).toBe(200);
  });
});
