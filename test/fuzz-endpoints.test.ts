import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { buildTestApp, postgresDatabase } from './support/app.ts';
import type { TestApp } from './support/app.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

// Fixed seeds keep a failure reproducible; the run counts are bounded to stay well inside 40 s.
const seed = 20261123;
let casesRun = 0;
const discovered: string[] = [];

const sqlAndHtml = [
  "'; DROP TABLE locations; --",
  "' OR '1'='1",
  '"; select pg_sleep(10); --',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '${7*7}{{7*7}}',
  '%00',
  '%',
  '%zz',
  '%E0%A4%A',
  '..%2F..%2Fetc%2Fpasswd',
  '../../etc/passwd',
  '\\u0000',
  'null',
  'undefined',
  '[]',
  '{}',
  '-1',
  '0',
  '1e309',
  '9223372036854775808',
  '99999999999999999999',
  '1.5',
  'NaN',
  ' ',
  '',
];

const knownKeys = ['limit', 'cursor', 'offset', 'tz', 'location', 'data', 'template', 'window', 'function', 'route', 'name'];

/** Percent-encodes every UTF-16 unit itself so lone surrogates and control characters reach the app too. */
function encodeLoosely(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...value].map((char) => (/^[A-Za-z0-9]$/.test(char) ? char : `%${(char.charCodeAt(0) & 0xff).toString(16).padStart(2, '0')}`)).join('');
  }
}

const anyText = fc.oneof(
  fc.constantFrom(...sqlAndHtml),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\n', '\r', '\t', '\u007f', '\u2028', '\ud800', '\udfff', 'é', '𝄞', '%', '&', '=', '#', '?', '/', '\\'), maxLength: 20 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constant('x'.repeat(100_000)),
  fc.constant('é'.repeat(50_000)),
);

/** A raw value sometimes goes unencoded: malformed percent escapes are part of what clients send. */
const queryValue = fc.tuple(anyText, fc.boolean()).map(([value, raw]) => (raw && /^[\x21-\x7e]*$/.test(value) && !/[#&]/.test(value) ? value : encodeLoosely(value)));

const queryString = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...knownKeys), anyText.map(encodeLoosely)), queryValue, fc.boolean()), { maxLength: 5 })
  .map((pairs) => pairs.map(([key, value, bare]) => (bare && value === '' ? key : `${key}=${value}`)).join('&'));

const pathSegment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
  anyText.filter((value) => value.length < 2000).map(encodeLoosely),
  fc.constantFrom('%2F', '..', '.', '%', '%zz', 'a%00b', 'x'.repeat(65), ''),
);

const paths = fc.oneof(
  fc.constantFrom(
    '/pingpong',
    '/pings',
    '/log-output',
    '/api/time',
    '/api/locations',
    '/save',
    '/_events/message',
    '/',
    '/view',
    '/api/stats',
    '/stats',
    '/health',
    '/health/ready',
    '/metrics',
  ),
  pathSegment.map((segment) => `/api/locations/${segment}`),
  fc.array(pathSegment, { minLength: 1, maxLength: 3 }).map((segments) => `/${segments.join('/')}`),
);

const contentTypes = fc.constantFrom(
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/merge-patch+json',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=xyz',
  'text/plain',
  'text/html',
  'application/octet-stream',
  'application/jsonx',
  '',
  ';;;',
);

const jsonish = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.record({ name: anyText, timezone: fc.oneof(anyText, fc.constantFrom('Europe/Helsinki', 'UTC', 'Asia/Tokyo')), description: fc.oneof(anyText, fc.constant(null), fc.integer()) }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
  fc.record({ data: fc.oneof(anyText, fc.integer(), fc.constant(null), fc.array(anyText)), template: fc.oneof(anyText, fc.constantFrom('default', 'space')) }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
  fc.record({ specversion: fc.oneof(fc.constantFrom('1.0', '0.3'), anyText), id: anyText, source: anyText, type: fc.constantFrom('dev.knfn.message.saved', 'x'), data: fc.jsonValue() }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
  fc.constantFrom('{', '{"data":', '[', '"unterminated', '{"a":1}}', 'nul', '\u0000', '{"data":"\\ud800"}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '1e999'),
  anyText,
  fc.constant(`[${'['.repeat(5000)}${']'.repeat(5000)}]`),
);

const ceHeaders = fc.oneof(
  fc.constant({}),
  fc.record({
    'ce-specversion': fc.constantFrom('1.0', '0.3', '2'),
    'ce-id': fc.string({ unit: 'grapheme-ascii', maxLength: 20 }),
    'ce-source': fc.constantFrom('/save', ''),
    'ce-type': fc.constantFrom('dev.knfn.message.saved', 'dev.other'),
  }),
);

const requests = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
  path: paths,
  query: fc.option(queryString, { nil: undefined }),
  contentType: contentTypes,
  accept: fc.constantFrom(undefined, 'application/json', 'text/html', 'text/html,application/xhtml+xml,*/*;q=0.8', '*/*', 'garbage;;q=x'),
  body: fc.option(jsonish, { nil: undefined }),
  ce: ceHeaders,
});

function escapeHtml(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

describe('fuzzing every endpoint through the runtime', () => {
  let database: TestDatabase;
  let test: TestApp;
  let sink: Server;
  let pings: Server;
  const deliveries: Delivery[] = [];
  let bindings: { sink: string; pingsUrl: string };

  async function call(path: string, init: RequestInit = {}): Promise<Answer> {
    casesRun++;
    const response = await test.app.request(path, init, bindings);
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text() };
  }

  /** The properties every answer must hold, whatever the input. */
  function expectWellFormed(answer: Answer, method: string, label: string): void {
    expect(answer.status, `${label} -> ${answer.status} ${answer.text.slice(0, 300)}`).toBeLessThan(500);
    if (answer.status >= 400 && method !== 'HEAD') {
      expect(answer.contentType, label).toMatch(/^application\/json/);
      const body = JSON.parse(answer.text) as { error?: { code?: unknown; message?: unknown } };
      expect(typeof body.error?.code === 'string' && body.error.code.length > 0, `${label}: ${answer.text}`).toBe(true);
      expect(typeof body.error?.message === 'string' && body.error.message.length > 0, `${label}: ${answer.text}`).toBe(true);
    }
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    test = await buildTestApp([...allFunctions], postgresDatabase(database.url));
    sink = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        deliveries.push({ headers: request.headers, body });
        response.writeHead(202).end();
      });
    });
    // log-output reads pings over HTTP; this answers from the same app, as `npm start` does.
    pings = createServer((_request, response) => {
      void (async () => {
        const answer = await test.app.request('/pings', { headers: { Accept: 'application/json' } });
        response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' }).end(await answer.text());
      })();
    });
    for (const server of [sink, pings]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    bindings = {
      sink: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/broker`,
      pingsUrl: `http://127.0.0.1:${(pings.address() as AddressInfo).port}/pings`,
    };
  });
  afterAll(async () => {
    for (const server of [sink, pings]) {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }
    await test?.close();
    await database?.drop();
    console.log(`fuzz-endpoints: ${casesRun} requests run`);
    if (discovered.length > 0) console.log(discovered.join('\n'));
  });

  it('never answers 5xx or throws, and every 4xx is the one JSON error shape', async () => {
    await fc.assert(
      fc.asyncProperty(requests, async ({ method, path, query, contentType, accept, body, ce }) => {
        const headers: Record<string, string> = { ...ce };
        if (contentType !== undefined) headers['content-type'] = contentType;
        if (accept !== undefined) headers['accept'] = accept;
        const init: RequestInit = { method, headers };
        if (body !== undefined && method !== 'GET' && method !== 'HEAD') init.body = body;
        const url = query === undefined ? path : `${path}?${query}`;
        const label = `${method} ${url.slice(0, 200)} [${contentType}] ${String(body).slice(0, 200)}`;
        try {
          expectWellFormed(await call(url, init), method, label);
        } catch (error) {
          // FUZZ_DISCOVER=1 collects every failure of a run instead of stopping at the first one.
          if (process.env['FUZZ_DISCOVER']) discovered.push(String(error).slice(0, 600));
          else throw error;
        }
      }),
      { seed: Number(process.env['FUZZ_SEED'] ?? seed), numRuns: Number(process.env['FUZZ_RUNS'] ?? 1500) },
    );
  });

  it('answers hand-picked edge cases without a 5xx', async () => {
    const cases: Array<[string, RequestInit?]> = [
      ['/api/time?tz=%00'],
      ['/view?cursor=0.0'],
      ['/view?limit=1e2'],
      ['/api/locations?offset=2147483647'],
      ['/api/locations?limit=1&offset=1e3'],
      ['/api/locations?cursor=eyJhZnRlciI6IlxcdTAwMDAifQ'],
      ['/api/locations/%00'],
      ['/api/locations/%E0%A4%A'],
      ['/view?cursor=1234567890123456.42'],
      ['/api/locations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"lone","timezone":"UTC","description":"\\ud800"}' }],
      ['/save', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'data=%E0%A4%A' }],
      ['/save', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'data=a&data=b' }],
      ['/api/time?tz=Europe/Helsinki&tz=UTC'],
    ];
    for (const [path, init] of cases) {
      const method = init?.method ?? 'GET';
      expectWellFormed(await call(path, init), method, `${method} ${path} ${String(init?.body ?? '')}`);
    }
  });

  it('rejects with a 400 the inputs fuzzing once turned into 500s', async () => {
    const json = { 'content-type': 'application/json' };
    const cases: Array<[string, RequestInit | undefined, string]> = [
      ['/api/time?location=%00', undefined, 'query.location: must not contain NUL'],
      ['/api/stats?route=a%00b', undefined, 'query.route: must not contain NUL'],
      ['/api/locations', { method: 'POST', headers: json, body: '{"name":"nul","timezone":"UTC","description":"a\\u0000b"}' }, 'body.description: must not contain NUL'],
      ['/_events/message', { method: 'POST', headers: { ...json, 'ce-id': 'nul-1', 'ce-source': '/t', 'ce-type': 'dev.knfn.message.saved', 'ce-specversion': '1.0' }, body: '{"data":"a\\u0000b"}' }, 'body.data: must not contain NUL'],
      ['/save?data=a%00b', undefined, 'query.data: must not contain NUL'],
      ['/save', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=xyz' }, body: 'data=x' }, 'body is not a valid form'],
      ['/view?cursor=9999999999999999999.1', undefined, 'query.cursor'],
      ['/view?cursor=1.9223372036854775807', undefined, 'query.cursor'],
    ];
    for (const [path, init, message] of cases) {
      const response = await call(path, init);
      expect(response.status, `${path} ${response.text}`).toBe(400);
      expect((JSON.parse(response.text) as { error: { message: string } }).error.message).toContain(message);
    }
  });

  it('stores a created location verbatim and reads it back identical', async () => {
    const zones = ['UTC', 'Europe/Helsinki', 'Asia/Tokyo', 'America/Argentina/Buenos_Aires', 'Asia/Kathmandu', 'Etc/GMT+12'];
    let serial = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,50}$/),
        fc.constantFrom(...zones),
        fc.option(
          // U+0000 is left out: PostgreSQL text cannot hold it (see the report on this file).
          fc.oneof(fc.string({ unit: 'binary', maxLength: 250 }), fc.string({ unit: 'grapheme', maxLength: 120 }), fc.constantFrom(...sqlAndHtml)).map((value) => value.replaceAll('\u0000', '')),
          { nil: undefined },
        ),
        async (prefix, timezone, description) => {
          const name = `${prefix}_${serial++}`;
          const input = description === undefined ? { name, timezone } : { name, timezone, description };
          const created = await call('/api/locations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
          expect(created.status, created.text).toBe(201);
          const read = await call(`/api/locations/${name}`);
          expect(read.status).toBe(200);
          expect(JSON.parse(read.text)).toMatchObject({ name, timezone, description: description ?? null });
          const time = await call(`/api/time?location=${name}`);
          expect(JSON.parse(time.text)).toMatchObject({ location: name, timezone });
          const duplicate = await call('/api/locations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
          expect(duplicate.status).toBe(409);
        },
      ),
      { seed, numRuns: 80 },
    );
  });

  it('shows a saved message verbatim as JSON and only escaped as HTML', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 400 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }), fc.constantFrom(...sqlAndHtml.filter((value) => value !== '')))
          // U+0000 is left out: PostgreSQL text cannot hold it (see the report on this file).
          .map((value) => value.replaceAll('\u0000', ''))
          .filter((value) => value.length >= 1 && value.length <= 2000),
        fc.constantFrom('default', 'space'),
        fc.boolean(),
        async (data, template, viaQuery) => {
          deliveries.length = 0;
          const saved = viaQuery
            ? await call(`/save?data=${encodeURIComponent(data)}&template=${template}`)
            : await call('/save', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data, template }) });
          expect(saved.status, saved.text).toBe(202);
          const { id } = JSON.parse(saved.text) as { id: string };
          expect(deliveries).toHaveLength(1);
          const [delivery] = deliveries;
          const headers = Object.fromEntries(Object.entries(delivery?.headers ?? {}).filter(([key]) => key.startsWith('ce-') || key === 'content-type')) as Record<string, string>;
          const stored = await call('/_events/message', { method: 'POST', headers, body: delivery?.body ?? '' });
          expect(stored.status, stored.text).toBe(204);

          const json = await call('/view?limit=5', { headers: { accept: 'application/json' } });
          const page = JSON.parse(json.text) as { items: Array<{ eventId: string; data: string; template: string }> };
          expect(page.items[0]).toMatchObject({ eventId: id, data, template });

          const htmlPage = await call(`/view?limit=1&template=${template}`);
          expect(htmlPage.contentType).toMatch(/^text\/html/);
          expect(htmlPage.text).toContain(escapeHtml(data));
          expect(htmlPage.text).not.toMatch(/<script/i);
        },
      ),
      { seed, numRuns: 60 },
    );
  });

  it('stores SQL- and HTML-looking input intact and keeps every table', async () => {
    const injection = "'; DROP TABLE locations; --";
    const created = await call('/api/locations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'injection', timezone: 'UTC', description: injection }),
    });
    expect(created.status).toBe(201);
    expect(JSON.parse((await call('/api/locations/injection')).text)).toMatchObject({ description: injection });
    const patched = await call('/api/locations/injection', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ description: `${injection} <script>` }) });
    expect(JSON.parse(patched.text)).toMatchObject({ description: `${injection} <script>` });
    expect((await call(`/api/time?location=${encodeURIComponent(injection)}`)).status).toBe(404);

    deliveries.length = 0;
    const script = '<script>alert("x")</script>';
    const saved = await call('/save', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: script }) });
    expect(saved.status).toBe(202);
    const [delivery] = deliveries;
    const headers = Object.fromEntries(Object.entries(delivery?.headers ?? {}).filter(([key]) => key.startsWith('ce-') || key === 'content-type')) as Record<string, string>;
    expect((await call('/_events/message', { method: 'POST', headers, body: delivery?.body ?? '' })).status).toBe(204);
    const page = JSON.parse((await call('/view', { headers: { accept: 'application/json' } })).text) as { items: Array<{ data: string }> };
    expect(page.items[0]?.data).toBe(script);
    const htmlPage = (await call('/view')).text;
    expect(htmlPage).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(htmlPage).not.toContain('<script');

    const tables = await database.query<{ name: string | null }>(
      "select to_regclass(t) as name from unnest(array['locations', 'messages', 'ping_count', 'request_stats']) as t",
    );
    expect(tables.rows.map((row) => row.name)).toEqual(['locations', 'messages', 'ping_count', 'request_stats']);
    const { rows } = await database.query<{ description: string }>('select description from locations where name = $1', ['injection']);
    expect(rows).toEqual([{ description: `${injection} <script>` }]);
  });
});
