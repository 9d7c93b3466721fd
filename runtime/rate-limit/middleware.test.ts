import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { defineFunction } from '../define-function.ts';
import type { AppEnv } from '../define-function.ts';
import { createFunctionApp } from '../function-app.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { createSharedState } from '../shared-state.ts';
import { trustedProxies } from './client-address.ts';
import { effectiveWriteLimit } from './middleware.ts';
import type { RateLimitSettings } from './middleware.ts';

const notes = defineFunction({
  name: 'notes',
  description: 'test function with a declared write limit',
  usesDatabase: false,
  rateLimit: { writes: '3/1m' },
  app: new Hono<AppEnv>()
    .get('/notes', (c) => c.json({ notes: [] }))
    .post('/notes', (c) => c.json({ ok: true }, 201))
    .delete('/notes/:id', (c) => c.body(null, 204)),
});

/** The function in a process without Redis, configured as `settings` say; requests from `address`. */
function appWith(settings: Partial<RateLimitSettings> = {}) {
  const log = createLogger({ level: 'silent' });
  const metrics = createMetrics();
  const rateLimit: RateLimitSettings = { writes: undefined, trustedProxies: trustedProxies([]), ...settings };
  const shared = createSharedState({ redis: undefined, rateLimit, functions: ['notes'], log, registry: metrics.registry });
  const app = createFunctionApp(notes, { database: undefined, log, metrics, shared });
  return (method: string, path: string, from = '198.51.100.1', headers: Record<string, string> = {}) =>
    app.request(path, { method, headers }, { incoming: { socket: { remoteAddress: from } } });
}

const statuses = async (responses: (Response | Promise<Response>)[]) => Promise.all(responses.map(async (response) => (await response).status));

describe('the write limit', () => {
  it("applies the function's declared limit to writes per client, and never to reads", async () => {
    const call = appWith();
    expect(await statuses([1, 2, 3].map(() => call('POST', '/notes')))).toEqual([201, 201, 201]);
    const refused = await call('DELETE', '/notes/1');
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({
      error: { code: 'rate_limited', message: 'too many writes: at most 3 per 60 s from one client; retry after 60 s' },
    });
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.headers.get('ratelimit-policy')).toBe('"writes";q=3;w=60');
    expect(refused.headers.get('ratelimit')).toBe('"writes";r=0;t=60');
    expect(await statuses([1, 2, 3, 4, 5].map(() => call('GET', '/notes')))).toEqual([200, 200, 200, 200, 200]);
    expect((await call('POST', '/notes', '198.51.100.2')).status).toBe(201);
  });

  it('tells allowed writes what is left, and leaves reads without the fields', async () => {
    const call = appWith();
    const first = await call('POST', '/notes');
    expect([first.headers.get('ratelimit-policy'), first.headers.get('ratelimit')]).toEqual(['"writes";q=3;w=60', '"writes";r=2;t=60']);
    expect((await call('POST', '/notes')).headers.get('ratelimit')).toBe('"writes";r=1;t=60');
    const read = await call('GET', '/notes');
    expect(read.headers.get('ratelimit')).toBeNull();
  });

  it('lets RATE_LIMIT_WRITES override the declaration, or turn it off', async () => {
    const stricter = appWith({ writes: { limit: 1, windowSeconds: 10 } });
    expect(await statuses([1, 2].map(() => stricter('POST', '/notes')))).toEqual([201, 429]);
    const off = appWith({ writes: 'off' });
    const answers = await statuses(Array.from({ length: 10 }, () => off('POST', '/notes')));
    expect(answers.every((status) => status === 201)).toBe(true);
    expect((await off('POST', '/notes')).headers.get('ratelimit')).toBeNull();
  });

  it('counts a forged X-Forwarded-For against the sender, and a trusted proxy\'s against the client it names', async () => {
    const call = appWith({ trustedProxies: trustedProxies(['10.0.0.1']) });
    const forged = await statuses([1, 2, 3, 4].map((i) => call('POST', '/notes', '198.51.100.7', { 'X-Forwarded-For': `203.0.113.${i}` })));
    expect(forged).toEqual([201, 201, 201, 429]);
    const viaProxy = await statuses([1, 2, 3, 4].map((i) => call('POST', '/notes', '10.0.0.1', { 'X-Forwarded-For': `203.0.113.${i}` })));
    expect(viaProxy).toEqual([201, 201, 201, 201]);
  });

  it("leaves internal functions (a Trigger's deliveries come from one address) to their own declaration", () => {
    const worker = { writeLimit: undefined, internal: true };
    const settings = { writes: { limit: 60, windowSeconds: 60 }, trustedProxies: trustedProxies([]) };
    expect(effectiveWriteLimit(worker, settings)).toBeUndefined();
    expect(effectiveWriteLimit({ ...worker, writeLimit: { limit: 1000, windowSeconds: 1 } }, settings)).toEqual({ limit: 1000, windowSeconds: 1 });
    expect(effectiveWriteLimit({ writeLimit: undefined, internal: false }, settings)).toEqual({ limit: 60, windowSeconds: 60 });
  });

  it('refuses a declaration it cannot read, naming the function', () => {
    expect(() =>
      defineFunction({ name: 'bad', description: 'x', usesDatabase: false, rateLimit: { writes: '3 per minute' }, app: notes.app }),
    ).toThrow('function "bad" has an invalid rateLimit.writes "3 per minute"');
  });
});
