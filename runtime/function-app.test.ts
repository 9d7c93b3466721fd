import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { defineFunction } from './define-function.ts';
import type { AppEnv } from './define-function.ts';
import { createFunctionApp } from './function-app.ts';
import type { HttpPolicy } from './function-app.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import type { RequestDeadline } from './request-deadline.ts';

const echo = defineFunction({
  name: 'echo',
  description: 'test function',
  scale: { min: 0, max: 1, target: 1 },
  usesDatabase: false,
  app: new Hono<AppEnv>()
    .post('/echo', async (c) => c.text(String((await c.req.text()).length)))
    .get('/boom', () => {
      throw new Error('relation "secret_table" does not exist at select * from secret_table');
    }),
});

function appWith(http: HttpPolicy) {
  return createFunctionApp(echo, { database: undefined, log: createLogger({ level: 'silent' }), metrics: createMetrics(), http });
}

describe('what every function gets', () => {
  const app = appWith({ allowedOrigins: ['https://app.example.com'], maxBodyBytes: 1000 });

  it('sends secure response headers', async () => {
    const response = await app.request('/echo', { method: 'POST', body: 'hi' });
    expect(await response.text()).toBe('2');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('allows CORS only for configured origins', async () => {
    const allowed = await app.request('/echo', { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const other = await app.request('/echo', { method: 'POST', body: 'x', headers: { Origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const closed = appWith({ allowedOrigins: [], maxBodyBytes: 1000 });
    const none = await closed.request('/echo', { method: 'POST', body: 'x', headers: { Origin: 'https://app.example.com' } });
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const declared = await app.request('/echo', { method: 'POST', body: 'x'.repeat(1001) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ error: { code: 'payload_too_large', message: 'request body exceeds 1000 bytes' } });
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(400));
        controller.close();
      },
    });
    const streamed = await app.request('/echo', { method: 'POST', body: chunks, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await app.request('/echo', { method: 'POST', body: 'x'.repeat(1000) })).status).toBe(200);
  });

  it('never puts internals of an unexpected error in the body', async () => {
    const response = await app.request('/boom');
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({ error: { code: 'internal_error', message: 'internal server error' } });
    expect(body).not.toContain('secret_table');
  });
});

describe('HTTP policy from the environment', () => {
  it('reads ALLOWED_ORIGINS and MAX_BODY_BYTES, naming a bad origin', () => {
    expect(loadConfig({ ALLOWED_ORIGINS: 'https://a.example, http://localhost:3000', MAX_BODY_BYTES: '2048' }).http).toEqual({
      allowedOrigins: ['https://a.example', 'http://localhost:3000'],
      maxBodyBytes: 2048,
    });
    expect(loadConfig({}).http).toEqual({ allowedOrigins: [], maxBodyBytes: 1048576 });
    expect(() => loadConfig({ ALLOWED_ORIGINS: 'javascript:alert(1)' })).toThrow(/ALLOWED_ORIGINS/);
  });
});

describe('the database deadline', () => {
  it('answers a request stuck on the database 503 with Retry-After once connect + query timeout have passed', async () => {
    let deadline: RequestDeadline | undefined;
    const stuck = defineFunction({
      name: 'stuck',
      description: 'waits on a database that never answers',
      scale: { min: 0, max: 1, target: 1 },
      app: new Hono<AppEnv>().get('/stuck', (c) => {
        deadline = c.get('deadline');
        return new Promise<Response>(() => {});
      }),
    });
    const app = createFunctionApp(stuck, {
      database: undefined,
      log: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
      databaseDeadlineMs: 150,
    });
    const started = performance.now();
    const response = await app.request('/stuck');
    const ms = performance.now() - started;
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({ error: { code: 'database_unavailable', message: 'the database is unreachable; retry shortly' } });
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(1000);
    // What the handler waits on (pingpong's queue) sees the same deadline and gives up too.
    expect(deadline?.expired).toBe(true);
    expect(deadline?.signal.aborted).toBe(true);
    expect(deadline?.signal.reason).toBe(deadline?.reason);
  });
});

