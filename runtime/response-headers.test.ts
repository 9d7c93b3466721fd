import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineFunction } from './define-function.ts';
import type { AppEnv } from './define-function.ts';
import { createFunctionApp } from './function-app.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';

const probe = defineFunction({
  name: 'probe',
  description: 'test function',
  scale: { min: 0, max: 1, target: 1 },
  usesDatabase: false,
  app: new Hono<AppEnv>()
    .get('/ok', (c) => c.text(c.get('requestId')))
    .get('/own', (c) => c.text('own', 200, { 'X-Frame-Options': 'DENY' }))
    .get('/boom', () => {
      throw new Error('boom');
    }),
});

const app = createFunctionApp(probe, { database: undefined, log: createLogger({ level: 'silent' }), metrics: createMetrics() });
const securityHeaders = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=15552000; includeSubDomains',
  'cross-origin-opener-policy': 'same-origin',
};

/** The same assertions over a real node-server socket (headers on Node's response) and app.request (Hono's). */
describe.each([
  ['over @hono/node-server', 'node'],
  ['through app.request', 'hono'],
] as const)('request id and security headers %s', (_title, kind) => {
  let server: Server | undefined;
  let get: (path: string, headers?: Record<string, string>) => Promise<Response>;
  beforeAll(async () => {
    if (kind === 'hono') {
      get = async (path, headers = {}) => app.request(path, { headers });
      return;
    }
    server = await new Promise<Server>((resolve) => {
      const created = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(created as Server));
    });
    const { port } = server.address() as AddressInfo;
    get = (path, headers = {}) => fetch(`http://127.0.0.1:${port}${path}`, { headers });
  });
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('sends the security headers and a fresh request id, the one the handler saw', async () => {
    const response = await get('/ok');
    const id = await response.text();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(response.headers.get('x-request-id')).toBe(id);
    for (const [name, value] of Object.entries(securityHeaders)) expect(response.headers.get(name), name).toBe(value);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it("keeps a caller's plausible request id and replaces anything else", async () => {
    const kept = await get('/ok', { 'X-Request-Id': 'trace-42=abc' });
    expect(await kept.text()).toBe('trace-42=abc');
    expect(kept.headers.get('x-request-id')).toBe('trace-42=abc');
    for (const bad of ['has space', 'semi;colon', 'x'.repeat(256)]) {
      const replaced = await get('/ok', { 'X-Request-Id': bad });
      expect(await replaced.text()).not.toBe(bad);
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('puts the headers on error answers too', async () => {
    for (const path of ['/boom', '/missing']) {
      const response = await get(path);
      expect(response.status).toBe(path === '/boom' ? 500 : 404);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("lets a handler's own value of a security header win", async () => {
    const response = await get('/own');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('our headers beside what writes to Node directly', () => {
  const direct = defineFunction({
    name: 'direct',
    description: 'test function',
    scale: { min: 0, max: 1, target: 1 },
    usesDatabase: false,
    app: new Hono<AppEnv>()
      // A Response made by hand keeps its plain header object, cased as written.
      .get('/cased', () => new Response('cased', { headers: { 'X-Frame-Options': 'DENY', 'X-Request-Id': 'mine' } }))
      .get('/raw', (c) => {
        const outgoing = (c.env as { outgoing: ServerResponse }).outgoing;
        outgoing.writeHead(201, 'Made', ['X-Frame-Options', 'DENY', 'X-Custom', 'yes']);
        outgoing.end('raw');
        return RESPONSE_ALREADY_SENT;
      })
      .get('/set-first', (c) => {
        (c.env as { outgoing: ServerResponse }).outgoing.setHeader('Referrer-Policy', 'same-origin');
        return c.text('set first');
      }),
  });
  let server: Server | undefined;
  let base = '';
  beforeAll(async () => {
    const directApp = createFunctionApp(direct, { database: undefined, log: createLogger({ level: 'silent' }), metrics: createMetrics() });
    server = await new Promise<Server>((resolve) => {
      const created = serve({ fetch: directApp.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(created as Server));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it("replaces ours with a handler's header whatever its case, never sending both", async () => {
    const response = await fetch(`${base}/cased`);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-request-id')).toBe('mine');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('adds ours under a writeHead given a header array and a reason, the given ones winning', async () => {
    const response = await fetch(`${base}/raw`);
    expect([response.status, response.statusText, await response.text()]).toEqual([201, 'Made', 'raw']);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-custom')).toBe('yes');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a header set on the response before writeHead', async () => {
    const response = await fetch(`${base}/set-first`);
    expect(await response.text()).toBe('set first');
    expect(response.headers.get('referrer-policy')).toBe('same-origin');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
