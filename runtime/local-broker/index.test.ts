import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { httpPost } from '../http-post.ts';
import { createLogger } from '../logger.ts';
import { inProcessSink } from './in-process.ts';
import { startLocalBroker } from './index.ts';
import type { LocalBroker } from './index.ts';

const log = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A subscriber app recording each delivery; answers `status`. */
function subscriber(status = 204) {
  const deliveries: Array<{ url: string; headers: Record<string, string>; body: string }> = [];
  const app = new Hono().post('/_events/message', async (c) => {
    deliveries.push({ url: c.req.url, headers: Object.fromEntries(c.req.raw.headers), body: await c.req.text() });
    return c.body(null, status as 204);
  });
  return { app, deliveries };
}

async function broker(app: Hono, deadLetterSink?: string): Promise<LocalBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'knfn-broker-'));
  const started = await startLocalBroker({
    queue: { kind: 'file', dir },
    subscriber: 'http://127.0.0.1:1/_events/message',
    deadLetterSink,
    log,
    app: (request) => app.fetch(request),
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => started.close());
  return started;
}

const event = (id: string) => ({
  headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/t', 'ce-type': 'dev.knfn.message.saved', 'x-other': 'dropped' },
  body: '{"data":"hello"}',
});

describe('the local broker with its subscriber in the same process', () => {
  it('takes events from publishers in this process and over HTTP alike, and hands them to the app', async () => {
    const { app, deliveries } = subscriber();
    const started = await broker(app);
    const sink = inProcessSink(started.url);
    expect(sink).toBeDefined();

    const local = event('in-process');
    // 202 after the first delivery: the subscriber already has it.
    expect(await sink?.(local.headers, local.body)).toBe(202);
    expect(deliveries).toHaveLength(1);
    const remote = event('over-http');
    expect((await httpPost(started.url, remote.headers, remote.body, { timeoutMs: 5000 })).status).toBe(202);

    expect(deliveries.map((delivery) => [delivery.url, delivery.headers['ce-id'], delivery.body])).toEqual([
      ['http://127.0.0.1:1/_events/message', 'in-process', '{"data":"hello"}'],
      ['http://127.0.0.1:1/_events/message', 'over-http', '{"data":"hello"}'],
    ]);
    // Only the CloudEvent travels on: the same headers whichever way it came.
    expect(deliveries[0]?.headers).toEqual({ ...deliveries[1]?.headers, 'ce-id': 'in-process' });
    expect(deliveries[0]?.headers['x-other']).toBeUndefined();
  });

  it('refuses what is not a CloudEvent with the same status on both paths', async () => {
    const started = await broker(subscriber().app);
    const headers = { 'content-type': 'application/json' };
    expect(await inProcessSink(started.url)?.(headers, '{}')).toBe(400);
    expect((await httpPost(started.url, headers, '{}', { timeoutMs: 5000 })).status).toBe(400);
  });

  it('dead-letters what the subscriber refuses to the app too, with the refusal in Knative extensions', async () => {
    const deadLetters: Array<Record<string, string>> = [];
    const app = new Hono()
      .post('/_events/message', (c) => c.json({ error: { code: 'invalid_input', message: 'no' } }, 400))
      .post('/_events/dead-letter', (c) => {
        deadLetters.push(Object.fromEntries(c.req.raw.headers));
        return c.body(null, 204);
      });
    const started = await broker(app, 'http://127.0.0.1:1/_events/dead-letter');
    const poison = event('poison');
    expect(await inProcessSink(started.url)?.(poison.headers, poison.body)).toBe(202);
    await expect.poll(() => deadLetters.length).toBe(1);
    expect(deadLetters[0]).toMatchObject({
      'ce-id': 'poison',
      'ce-knativeerrordest': 'http://127.0.0.1:1/_events/message',
      'ce-knativeerrorcode': '400',
      'ce-knativeerrordata': Buffer.from('{"error":{"code":"invalid_input","message":"no"}}').toString('base64'),
    });
  });

  it('stops serving publishers in this process once closed', async () => {
    const started = await broker(subscriber().app);
    await started.close();
    expect(inProcessSink(started.url)).toBeUndefined();
  });
});
