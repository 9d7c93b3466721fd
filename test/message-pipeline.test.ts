import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudEvent, HTTP } from 'cloudevents';
import { parseAllDocuments } from 'yaml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import messageBoard from '../functions/message-board/index.ts';
import messageWorker from '../functions/message-worker/index.ts';
import save from '../functions/save/index.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { buildTestApp, postgresDatabase } from './support/app.ts';
import type { TestApp } from './support/app.ts';
import { startDatabaseProxy } from './support/tcp-proxy.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';

/** The subscriber path of the Trigger that delivers message.saved events (knative/500-eventing.yaml). */
function triggerPath(): string {
  const documents = parseAllDocuments(readFileSync(new URL('../knative/500-eventing.yaml', import.meta.url), 'utf8'));
  const trigger = documents.map((document) => document.toJSON() as { kind?: string; spec?: { subscriber?: { uri?: string } } }).find((object) => object.kind === 'Trigger');
  const uri = trigger?.spec?.subscriber?.uri;
  if (uri === undefined) throw new Error('knative/500-eventing.yaml has no Trigger with a subscriber uri');
  return uri;
}

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A stand-in for the broker: records every delivery and answers with `status`. */
class RecordingSink {
  readonly received: Received[] = [];
  status = 202;
  delayMs = 0;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        this.received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
        setTimeout(() => response.writeHead(this.status).end(), this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/broker`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

type Row = { id: string; event_id: string; data: string; template: string };

function deliver(app: TestApp['app'], message: { headers: Record<string, unknown>; body: unknown }, path = '/_events/message') {
  return app.request(path, { method: 'POST', headers: message.headers as Record<string, string>, body: String(message.body) });
}

function savedEvent(data: unknown, id?: string): CloudEvent<unknown> {
  return new CloudEvent<unknown>({ type: 'dev.knfn.message.saved', source: '/save', data, ...(id ? { id } : {}) });
}

describe('the message pipeline on PostgreSQL', () => {
  let database: TestDatabase;
  let test: TestApp;
  let workerOnly: TestApp;
  const sink = new RecordingSink();

  beforeAll(async () => {
    database = await createTestDatabase();
    test = await buildTestApp([save, messageWorker, messageBoard], postgresDatabase(database.url));
    workerOnly = await buildTestApp([messageWorker], postgresDatabase(database.url));
    await sink.start();
  });
  afterAll(async () => {
    await sink.stop();
    await workerOnly?.close();
    await test?.close();
    await database?.drop();
  });

  describe('message-worker', () => {
    beforeEach(() => database.query('truncate messages'));

    it('stores a binary-mode event once, however often it is delivered', async () => {
      const event = savedEvent({ data: 'hello', template: 'space' });
      const message = HTTP.binary(event);
      expect((await deliver(test.app, message)).status).toBe(204);
      expect((await deliver(test.app, message)).status).toBe(204);
      const concurrent = await Promise.all(Array.from({ length: 5 }, () => deliver(test.app, message)));
      expect(concurrent.map((response) => response.status)).toEqual([204, 204, 204, 204, 204]);
      const { rows } = await database.query<Row>('select event_id, data, template from messages');
      expect(rows).toEqual([{ event_id: event.id, data: 'hello', template: 'space' }]);
    });

    it('stores a structured-mode event, defaulting the template', async () => {
      const event = savedEvent({ data: 'structured' });
      const message = HTTP.structured(event);
      expect(message.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
      expect((await deliver(test.app, message)).status).toBe(204);
      const { rows } = await database.query<Row>('select event_id, data, template from messages');
      expect(rows).toEqual([{ event_id: event.id, data: 'structured', template: 'default' }]);
    });

    it('accepts deliveries on the path its Trigger subscribes it at', async () => {
      const event = savedEvent({ data: 'via trigger', template: 'default' });
      expect((await deliver(workerOnly.app, HTTP.binary(event), triggerPath())).status).toBe(204);
      expect((await database.query('select 1 from messages where event_id = $1', [event.id])).rowCount).toBe(1);
    });

    it('answers 400 to anything that is not a valid message.saved event, storing nothing', async () => {
      const cases: Array<{ headers: Record<string, string>; body: string; expected: RegExp }> = [
        { headers: { 'content-type': 'application/json' }, body: '{"data":"x"}', expected: /CloudEvent/ },
        { headers: { 'content-type': 'application/cloudevents+json' }, body: '{not json', expected: /CloudEvent/ },
        { ...binary(new CloudEvent({ type: 'dev.knfn.other', source: '/save', data: { data: 'x' } })), expected: /event type/ },
        { ...binary(savedEvent({ template: 'default' })), expected: /body\.data/ },
        { ...binary(savedEvent({ data: 'x'.repeat(2001) })), expected: /body\.data/ },
        { ...binary(savedEvent({ data: 'x', template: 'neon' })), expected: /body\.template/ },
        { ...binary(savedEvent('just text')), expected: /body/ },
      ];
      for (const { headers, body, expected } of cases) {
        const response = await deliver(test.app, { headers, body });
        expect(response.status, body).toBe(400);
        const answer = (await response.json()) as { error: { code: string; message: string } };
        expect(answer.error.message).toMatch(expected);
      }
      expect((await database.query('select 1 from messages')).rowCount).toBe(0);
    });
  });

  describe('save', () => {
    beforeEach(() => {
      sink.received.length = 0;
      sink.status = 202;
      sink.delayMs = 0;
    });
    const withSink = (path: string, init: RequestInit = {}, url: string | undefined = sink.url) =>
      test.app.request(path, init, url === undefined ? {} : { sink: url });

    it('publishes a binary CloudEvent to the sink and answers 202 with its id', async () => {
      const response = await withSink('/save?data=hi%20there&template=space');
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      expect(sink.received).toHaveLength(1);
      const [delivery] = sink.received;
      expect(delivery?.method).toBe('POST');
      expect(delivery?.url).toBe('/broker');
      expect(delivery?.headers).toMatchObject({
        'ce-id': id,
        'ce-type': 'dev.knfn.message.saved',
        'ce-source': '/save',
        'ce-specversion': '1.0',
      });
      expect(delivery?.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(delivery?.body ?? '')).toEqual({ data: 'hi there', template: 'space' });
    });

    it('takes a JSON body, the template defaulting to default', async () => {
      const response = await withSink('/save', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: 'from json' }),
      });
      expect(response.status).toBe(202);
      expect(JSON.parse(sink.received[0]?.body ?? '')).toEqual({ data: 'from json', template: 'default' });
    });

    it('redirects a browser form post to the board, and answers JSON to other form posts', async () => {
      const form = new URLSearchParams({ data: 'from a form', template: 'space' });
      const page = await withSink('/save', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
        body: form.toString(),
      });
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toBe('/view?template=space');
      const api = await withSink('/save', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      expect(api.status).toBe(202);
      expect(sink.received.map((delivery) => JSON.parse(delivery.body) as unknown)).toEqual([
        { data: 'from a form', template: 'space' },
        { data: 'from a form', template: 'space' },
      ]);
    });

    it('answers 400 naming the bad field, publishing nothing', async () => {
      const empty = await withSink('/save', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: '' }),
      });
      expect(empty.status).toBe(400);
      expect(((await empty.json()) as { error: { message: string } }).error.message).toMatch(/^body\.data: /);
      const tooLong = await withSink('/save', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ data: 'x'.repeat(2001) }).toString(),
      });
      expect(((await tooLong.json()) as { error: { message: string } }).error.message).toMatch(/^body\.data: /);
      const template = await withSink('/save?data=x&template=neon');
      expect(template.status).toBe(400);
      expect(await template.json()).toMatchObject({ error: { code: 'invalid_input', message: expect.stringMatching(/^query\.template: /) } });
      const missing = await withSink('/save');
      expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/^query\.data: /);
      const text = await withSink('/save', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hi' });
      expect(text.status).toBe(415);
      expect(sink.received).toHaveLength(0);
    });

    it('answers 503 sink_unavailable when the sink fails, is down, is slow or is not configured', async () => {
      const expectUnavailable = async (response: Response) => {
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('1');
        expect(await response.json()).toMatchObject({ error: { code: 'sink_unavailable' } });
      };
      sink.status = 500;
      await expectUnavailable(await withSink('/save?data=x'));
      expect(sink.received).toHaveLength(1);

      const down = new RecordingSink();
      await down.start();
      await down.stop();
      await expectUnavailable(await withSink('/save?data=x', {}, down.url));

      await expectUnavailable(await withSink('/save?data=x', {}, undefined));
      await expectUnavailable(await test.app.request('/save?data=x'));

      sink.status = 202;
      sink.delayMs = 5000;
      const started = performance.now();
      await expectUnavailable(await withSink('/save?data=x'));
      expect(performance.now() - started).toBeLessThan(4500);
    });
  });

  describe('message-board', () => {
    beforeAll(async () => {
      await database.query('truncate messages');
      // Microseconds apart and one tie on created_at: a millisecond cursor would skip or repeat rows.
      await database.query(`insert into messages (event_id, data, template, created_at) values
        ('e1', 'first', 'default', '2026-01-01 00:00:00.000001+00'),
        ('e2', 'second', 'space', '2026-01-01 00:00:00.000002+00'),
        ('e3', 'third', 'default', '2026-01-01 00:00:00.000002+00'),
        ('e4', '<script>alert(1)</script> & "quotes"', 'default', '2026-01-01 00:00:00.000003+00'),
        ('e5', 'fifth', 'space', '2026-01-01 00:00:01+00')`);
    });

    type Page = { items: Array<{ id: number; eventId: string; data: string; template: string; createdAt: string }>; nextCursor: string | null };
    const json = async (path: string): Promise<Page> => {
      const response = await test.app.request(path, { headers: { Accept: 'application/json' } });
      expect(response.status).toBe(200);
      return (await response.json()) as Page;
    };

    it('lists messages newest first as JSON', async () => {
      const page = await json('/view');
      expect(page.items.map((item) => item.eventId)).toEqual(['e5', 'e4', 'e3', 'e2', 'e1']);
      expect(page.nextCursor).toBeNull();
      expect(page.items[0]).toEqual({ id: expect.any(Number), eventId: 'e5', data: 'fifth', template: 'space', createdAt: '2026-01-01T00:00:01.000Z' });
    });

    it('pages through every message exactly once with the cursor', async () => {
      const seen: string[] = [];
      let path = '/view?limit=2';
      for (let pages = 0; pages < 10; pages++) {
        const page = await json(path);
        seen.push(...page.items.map((item) => item.eventId));
        if (!page.nextCursor) break;
        path = `/view?limit=2&cursor=${encodeURIComponent(page.nextCursor)}`;
      }
      expect(seen).toEqual(['e5', 'e4', 'e3', 'e2', 'e1']);
      const single: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Page = await json(`/view?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
        single.push(...page.items.map((item) => item.eventId));
        cursor = page.nextCursor;
      } while (cursor);
      expect(single).toEqual(['e5', 'e4', 'e3', 'e2', 'e1']);
    });

    it('renders HTML with every stored string escaped and an older link', async () => {
      const response = await test.app.request('/view?limit=4');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
      const page = await response.text();
      expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;');
      expect(page).not.toContain('<script>');
      const older = /<a class="older" rel="next" href="([^"]+)"/.exec(page)?.[1];
      expect(older).toMatch(/^\/view\?template=default&amp;limit=4&amp;cursor=\d+\.\d+$/);
      const next = await (await test.app.request(older?.replaceAll('&amp;', '&') ?? '')).text();
      expect(next).toContain('first');
      expect(next).not.toContain('fifth');
      expect(next).not.toContain('class="older"');
    });

    it('renders the space template and the home page form', async () => {
      const space = await (await test.app.request('/view?template=space')).text();
      expect(space).toContain('class="theme-space"');
      expect(space).toContain('radial-gradient');
      expect(space).not.toMatch(/https?:\/\//);
      const home = await test.app.request('/');
      expect(home.status).toBe(200);
      const form = await home.text();
      expect(form).toContain('<form method="post" action="/save">');
      expect(form).toContain('<textarea id="data" name="data"');
      expect(form).toContain('<select id="template" name="template">');
      expect(form).toContain('href="/view?template=default"');
    });

    it('answers 400 for a bad limit, cursor or template', async () => {
      for (const [query, field] of [
        ['limit=0', 'query.limit'],
        ['limit=101', 'query.limit'],
        ['cursor=abc', 'query.cursor'],
        ['template=neon', 'query.template'],
      ] as const) {
        const response = await test.app.request(`/view?${query}`);
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(new RegExp(`^${field}: `));
      }
    });
  });
});

describe('message-worker while the database is unreachable', () => {
  let proxy: TcpProxy;
  let database: TestDatabase;
  let test: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await startDatabaseProxy(database.url);
    proxy = proxied.proxy;
    test = await buildTestApp([messageWorker], postgresDatabase(proxied.url));
  });
  afterEach(() => proxy.start().catch(() => undefined));
  afterAll(async () => {
    await test?.close();
    await proxy.stop();
    await database?.drop();
  });

  it('answers 503 so the broker retries, and stores the redelivery once the database is back', async () => {
    const message = HTTP.binary(savedEvent({ data: 'retried' }));
    await proxy.stop();
    const failed = await deliver(test.app, message);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ error: { code: 'database_unavailable' } });
    await proxy.start();
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 204; attempt++) {
      status = (await deliver(test.app, message)).status;
      if (status !== 204) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(status).toBe(204);
    expect((await deliver(test.app, message)).status).toBe(204);
    const { rows } = await database.query<Row>('select data from messages');
    expect(rows).toEqual([{ data: 'retried' }]);
  });
});

function binary(event: CloudEvent<unknown>): { headers: Record<string, string>; body: string } {
  const message = HTTP.binary(event);
  return { headers: message.headers as Record<string, string>, body: String(message.body) };
}
