import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../isolated/free-port.ts';
import { createRouteTable } from '../isolated/route-table.ts';
import { renderNginxConfig, translatePattern } from './nginx-config.ts';
import type { GatewayUpstream, NginxGatewaySettings } from './nginx-config.ts';
import { findNginx, resolvesUpstreamNames, startNginx, testNginxConfig } from './nginx-process.ts';
import type { NginxFiles, RunningNginx } from './nginx-process.ts';
import type { GatewayRoute } from './public-routes.ts';
import { configForNginx } from '../../test/support/nginx.ts';

function nginxBinary(): string {
  const binary = findNginx();
  if (binary === undefined) throw new Error('these tests run real nginx, which is not installed: apt-get install nginx');
  return binary;
}

/** The cluster's nginx re-resolves upstream names (`resolve`); Debian's 1.22 cannot. */
const nginxResolves = (() => {
  const binary = findNginx();
  return binary !== undefined && resolvesUpstreamNames(binary);
})();
const needsResolve = 'needs nginx >= 1.27.3 for `server ... resolve`: put one first on PATH';

const route = (path: string, fn: string): GatewayRoute => ({ path, function: fn });

/** The product's public routes, in the order the functions declare them. */
const productRoutes: GatewayRoute[] = [
  route('/pingpong', 'pingpong'),
  route('/pings', 'pings'),
  route('/log-output', 'log-output'),
  route('/api/time', 'time'),
  route('/api/locations', 'locations'),
  route('/api/locations/:name', 'locations'),
  route('/', 'message-board'),
  route('/view', 'message-board'),
  route('/save', 'save'),
  route('/api/stats', 'stats'),
  route('/stats', 'stats'),
];

/** Plus the pattern kinds the product does not use yet, overlapping on purpose. */
const routes: GatewayRoute[] = [
  ...productRoutes,
  route('/files/*', 'files'),
  route('/files/special', 'special'),
  route('/api/items/:id{[0-9]+}', 'items'),
  route('/api/items/:slug', 'slugs'),
  route('/tags/:tag?', 'tags'),
  route('/gone', 'gone'),
  route('/api/*', 'api'),
];

const limits: NginxGatewaySettings['limits'] = {
  maxBodyBytes: 1024,
  connectTimeoutSeconds: 1,
  readTimeoutSeconds: 1,
  sendTimeoutSeconds: 1,
  clientBodyTimeoutSeconds: 1,
};

function settings(overrides: Partial<NginxGatewaySettings> & Pick<NginxGatewaySettings, 'routes' | 'upstreams'>): NginxGatewaySettings {
  return {
    listen: { address: '127.0.0.1', port: 8080 },
    limits,
    files: { pid: '/tmp/nginx.pid', tempDir: '/tmp/nginx' },
    workerProcesses: 1,
    accessLog: 'stdout',
    ...overrides,
  };
}

// ---- Stand-ins for functions -----------------------------------------------------------------

interface Echo {
  function: string;
  method: string;
  url: string;
  host: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
}

interface StandIn {
  port: number;
  /** Raw request URIs it received. */
  hits: string[];
  server: Server;
  /** TCP connections it has accepted. */
  accepted(): number;
}

/**
 * A function as nginx sees it: echoes what arrived, as JSON. The query steers it: status=,
 * delayMs=, location= (a 302), stream= (that many bytes, the first kilobyte 300 ms early).
 */
async function startStandIn(name: string): Promise<StandIn> {
  const hits: string[] = [];
  const server = createServer((incoming, outgoing) => {
    const url = incoming.url ?? '';
    hits.push(url);
    const query = new URL(url, 'http://x').searchParams;
    let bodyBytes = 0;
    incoming.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    incoming.on('end', async () => {
      await sleep(Number(query.get('delayMs') ?? 0));
      const stream = Number(query.get('stream') ?? 0);
      if (stream > 0) {
        const body = streamBody(stream);
        outgoing.writeHead(200, { 'content-type': 'application/octet-stream' });
        outgoing.write(body.subarray(0, 1024));
        await sleep(300);
        outgoing.end(body.subarray(1024));
        return;
      }
      const echo: Echo = { function: name, method: incoming.method ?? '', url, host: incoming.headers.host ?? '', headers: incoming.headers, bodyBytes };
      const location = query.get('location');
      outgoing.writeHead(Number(query.get('status') ?? 200), {
        'content-type': 'application/json',
        ...(location === null ? {} : { location }),
      });
      outgoing.end(JSON.stringify(echo));
    });
  });
  let accepted = 0;
  server.on('connection', () => accepted++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, hits, server, accepted: () => accepted };
}

function streamBody(bytes: number): Buffer {
  return Buffer.from(Array.from({ length: bytes }, (_, index) => index % 251));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- Clients ---------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** ms from the first body byte to the end. */
  spreadMs: number;
}

/** Node's client, which sends the path as given: no URL normalisation in between. */
function send(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; endBody?: boolean; localAddress?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const target = { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false, localAddress: options.localAddress };
    const outgoing = request(target, (incoming) => {
      const chunks: Buffer[] = [];
      let first = 0;
      incoming.on('data', (chunk: Buffer) => {
        first ||= Date.now();
        chunks.push(chunk);
      });
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body, text: body.toString(), spreadMs: Date.now() - first });
      });
    });
    outgoing.on('error', reject);
    if (options.body !== undefined) outgoing.write(options.body);
    if (options.endBody !== false) outgoing.end();
  });
}

/** Bytes as written, for what Node's client refuses to send; the raw response back. */
function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

function rawStatusAndBody(response: string): { status: number; contentType: string | undefined; body: unknown } {
  const [head = '', body = ''] = response.split('\r\n\r\n');
  const contentType = /^content-type: (.*)$/im.exec(head)?.[1];
  return { status: Number(head.split(' ')[1]), contentType, body: JSON.parse(body) };
}

const notFound = (method: string, path: string) => ({ error: { code: 'not_found', message: `no route for ${method} ${path}` } });

// ---- Rendering -------------------------------------------------------------------------------

describe('renderNginxConfig', () => {
  const upstreams = Object.fromEntries(routes.map((entry) => [entry.function, { address: `${entry.function}.default.svc.cluster.local:80`, host: `${entry.function}.default.svc.cluster.local` }]));
  const resolver = { address: '10.96.0.10', validSeconds: 10 };

  it('is accepted by nginx -t for the product routes, a wildcard, an optional and a regex parameter', async () => {
    const binary = nginxBinary();
    const verdict = await testNginxConfig(binary, (files) =>
      configForNginx(renderNginxConfig(settings({ routes, upstreams, resolver, files, probePort: 8081, workerProcesses: 'auto' })), binary),
    );
    expect(verdict.output).toContain('test is successful');
    expect(verdict.ok).toBe(true);
  });

  it('is accepted by nginx -t with IP literals, as the local runner renders it, on any nginx', async () => {
    const local = Object.fromEntries(Object.keys(upstreams).map((name, index) => [name, { address: `127.0.0.1:${9000 + index}`, host: `${name}.default.svc.cluster.local` }]));
    const verdict = await testNginxConfig(nginxBinary(), (files) => renderNginxConfig(settings({ routes, upstreams: local, files, probePort: 8081 })));
    expect(verdict.output).toContain('test is successful');
    expect(verdict.ok).toBe(true);
  });

  it('gives each function an upstream with a keep-alive pool, resolving a DNS name at run time and an IP literal never', () => {
    const config = renderNginxConfig(
      settings({
        routes: [route('/a', 'a'), route('/b', 'b'), route('/a2', 'a')],
        upstreams: { a: { address: 'a.default.svc.cluster.local:80', host: 'a.default.svc.cluster.local' }, b: { address: '127.0.0.1:9001', host: 'b' }, unused: { address: '127.0.0.1:1', host: 'u' } },
        resolver,
      }),
    );
    const blocks = [...config.matchAll(/^ {2}upstream (\S+) \{\n([^}]*)\n {2}\}$/gm)].map((match) => [match[1], match[2]?.split('\n').map((line) => line.trim())]);
    expect(blocks).toEqual([
      ['knfn_a', ['zone knfn_a 64k;', 'server a.default.svc.cluster.local:80 resolve max_fails=0;', 'keepalive 64;', 'keepalive_timeout 4s;']],
      ['knfn_b', ['zone knfn_b 64k;', 'server 127.0.0.1:9001 max_fails=0;', 'keepalive 64;', 'keepalive_timeout 4s;']],
    ]);
    expect(config.match(/proxy_pass http:\/\/knfn_a;/g)).toHaveLength(2);
    expect(config).toContain('proxy_http_version 1.1;');
    expect(config).toContain('proxy_set_header Connection "";');
    expect(config).not.toContain('proxy_pass http://$');
  });

  it('renders the main context without daemon or user, exact locations first, then ordered regexes', () => {
    const config = renderNginxConfig(settings({ routes, upstreams, resolver }));
    expect(config).not.toMatch(/^\s*(daemon|user)\b/m);
    expect(config).toMatch(/^pid "\/tmp\/nginx.pid";$/m);
    expect(config).toContain('error_log stderr warn;');
    expect(config).toContain('client_max_body_size 1024;');
    expect(config).toContain('resolver "10.96.0.10" valid=10s;');
    const locations = [...config.matchAll(/^\s*location (=|~) "([^"]*)"/gm)].map((match) => `${match[1]} ${match[2]}`);
    expect(locations.slice(0, 6)).toEqual(['= /pingpong', '= /pings', '= /log-output', '= /api/time', '= /api/locations', String.raw`~ ^/api/locations/[^/]+\\z`]);
    expect(locations).toContain(String.raw`~ ^/view\\z`);
    expect(locations.indexOf(String.raw`~ ^/files(?:/[\\s\\S]*)?\\z`)).toBeLessThan(locations.indexOf(String.raw`~ ^/files/special\\z`));
  });

  it('translates Hono patterns, expanding optional parameters as Hono does', () => {
    expect(translatePattern('/view')).toEqual([{ path: '/view' }]);
    expect(translatePattern('/api/x/*')).toEqual([{ path: '/api/x/*', regex: String.raw`^/api/x(?:/[\s\S]*)?\z` }]);
    expect(translatePattern('/a/:id{[0-9]{2,4}}/b.json')).toEqual([{ path: '/a/:id{[0-9]{2,4}}/b.json', regex: String.raw`^/a/(?:[0-9]{2,4})/b\.json\z` }]);
    expect(translatePattern('/tags/:tag?')).toEqual([{ path: '/tags' }, { path: '/tags/:tag', regex: String.raw`^/tags/[^/]+\z` }]);
    expect(translatePattern('/*')).toEqual([{ path: '/*', regex: String.raw`^(?:/[\s\S]*)?\z` }]);
  });

  it.each([
    ['/a*', /cannot translate "a\*"/],
    ['/a/*/b', /cannot translate "\*"/],
    ['/a b', /cannot translate "a b"/],
    ['/a/../b', /cannot translate "\.\."/],
    ['relative', /must start with "\/"/],
    ['/a/:x{a|b}', /top-level \|/],
    [String.raw`/a/:x{\p{L}+}`, /escape other than/],
    ['/a/:x{(?<n>x)}', /characters outside/],
    ['/a/:x{[^]}', /empty class/],
    ['/a/:x{x$}', /characters outside/],
    ['/a/:x{(}', /not a valid regular expression/],
  ])('refuses the pattern %s, which nginx could not match as Hono does', (path, why) => {
    expect(() => translatePattern(path)).toThrow(why);
    expect(() => renderNginxConfig(settings({ routes: [route(path, 'x')], upstreams: { x: { address: '10.0.0.1:80', host: 'x' } } }))).toThrow(why);
  });

  it('refuses a route whose function has no upstream, and a DNS name without a resolver', () => {
    expect(() => renderNginxConfig(settings({ routes: [route('/x', 'x')], upstreams: {} }))).toThrow('no upstream for function "x"');
    const named = { x: { address: 'x.default.svc.cluster.local:80', host: 'x' } };
    expect(() => renderNginxConfig(settings({ routes: [route('/x', 'x')], upstreams: named }))).toThrow('is a DNS name: set resolver');
    const injected = { x: { address: '10.0.0.1:80; return 200', host: 'x' } };
    expect(() => renderNginxConfig(settings({ routes: [route('/x', 'x')], upstreams: injected }))).toThrow('is not name:port or ip:port');
    const oddName = { 'x;y': { address: '10.0.0.1:80', host: 'x' } };
    expect(() => renderNginxConfig(settings({ routes: [route('/x', 'x;y')], upstreams: oddName }))).toThrow('cannot name an nginx upstream');
  });
});

// ---- The real thing --------------------------------------------------------------------------

describe('the nginx gateway in front of stand-in functions', () => {
  const standIns = new Map<string, StandIn>();
  const lines: string[] = [];
  let nginx: RunningNginx;
  let port: number;
  let probePort: number;

  beforeAll(async () => {
    const names = [...new Set(routes.map((entry) => entry.function))].filter((name) => name !== 'gone');
    for (const name of names) standIns.set(name, await startStandIn(name));
    const upstreams: Record<string, GatewayUpstream> = Object.fromEntries(
      [...standIns].map(([name, standIn]) => [name, { address: `127.0.0.1:${standIn.port}`, host: `${name}.default.svc.cluster.local` }]),
    );
    // Nothing listens there: a function that is down.
    upstreams['gone'] = { address: `127.0.0.1:${await freePort()}`, host: 'gone' };
    [port, probePort] = [await freePort(), await freePort()];
    const render = (files: NginxFiles) => renderNginxConfig(settings({ listen: { address: '127.0.0.1', port }, probePort, routes, upstreams, files }));
    nginx = await startNginx({ binary: nginxBinary(), render, port, onLine: (line, stream) => stream === 'stdout' && lines.push(line) });
  });

  afterAll(async () => {
    await nginx?.stop();
    for (const { server } of standIns.values()) server.close();
  });

  const get = (path: string, headers?: Record<string, string>) => send(port, path, headers === undefined ? {} : { headers });
  const json = (reply: Reply) => JSON.parse(reply.text) as Record<string, unknown>;

  it("sends every path to the function Hono's router picks, and 404s exactly where it picks none", async () => {
    const hono = createRouteTable(routes);
    const paths = [
      '/', '/pingpong', '/pingpong/', '/PINGPONG', '/pingpongx', '/pings', '/log-output', '/api/time', '/api/time/',
      '/api/locations', '/api/locations/', '/api/locations/tokyo', '/api/locations/a/b', '/view', '/viewx', '/view/',
      '/save', '/api/stats', '/stats', '/files', '/files/', '/files/a/b', '/filesx', '/files/special', '/api/items/42',
      '/api/items/4x', '/api/items/42/', '/tags', '/tags/', '/tags/red', '/tags/red/blue', '/api', '/api/', '/apix',
      '/api/anything/else', '/nope', '/metrics', '/health', '/health/ready', '/_events/message', '/index.html',
    ];
    const expected = paths.map((path) => [path, hono(path) ?? '404']);
    const actual = await Promise.all(
      paths.map(async (path) => {
        const reply = await get(path);
        const body = json(reply);
        if (reply.status === 404) expect(body).toEqual(notFound('GET', path));
        return [path, reply.status === 200 ? body['function'] : String(reply.status)];
      }),
    );
    expect(actual).toEqual(expected);
    // The table means something: each kind of outcome occurs.
    expect(new Set(expected.map(([, fn]) => fn))).toEqual(new Set(['message-board', 'pingpong', 'pings', 'log-output', 'time', 'locations', 'save', 'stats', 'files', 'items', 'slugs', 'tags', 'api', '404']));
  });

  it('passes the raw URI and query up unchanged with the configured Host and X-Forwarded-*', async () => {
    const path = '/api/locations/t%C3%B6ky%6F?b=2&a=%20x&a=1';
    const reply = await get(path, { host: 'Gateway.Example:8443', 'x-forwarded-for': '203.0.113.9' });
    const echo = json(reply) as unknown as Echo;
    expect(echo.function).toBe('locations');
    expect(echo.url).toBe(path);
    expect(echo.host).toBe('locations.default.svc.cluster.local');
    // The address nginx saw, never the caller's own X-Forwarded-For: functions take it as the client.
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(echo.headers['x-forwarded-host']).toBe('gateway.example');
    expect(echo.headers.connection).toBeUndefined();
    expect(reply.headers.server).toBe('nginx');

    const behindIngress = json(await get('/pingpong', { 'x-forwarded-proto': 'https' })) as unknown as Echo;
    expect(behindIngress.headers['x-forwarded-proto']).toBe('https');
  });

  it("keeps the client's plausible X-Request-Id, else sends nginx's own, and logs the same one", async () => {
    const kept = json(await get('/pingpong', { 'x-request-id': 'trace-42=abc' })) as unknown as Echo;
    expect(kept.headers['x-request-id']).toBe('trace-42=abc');
    const generated = json(await get('/pingpong')) as unknown as Echo;
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    const replaced = json(await get('/pingpong', { 'x-request-id': 'has space' })) as unknown as Echo;
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);

    const line = await logLine(lines, (entry) => entry['requestId'] === 'trace-42=abc');
    expect(line).toMatchObject({ level: 'info', msg: 'gateway request', method: 'GET', path: '/pingpong', status: 200, function: 'pingpong', upstreamStatus: '200' });
    expect(line['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    expect(line['seconds']).toBeTypeOf('number');
    expect(line['bytes']).toBeGreaterThan(200);
  });

  it('answers unknown and runtime-only paths with the one JSON 404 shape', async () => {
    for (const path of ['/nope', '/metrics', '/health', '/health/ready', '/_events/message', '/x.html', '/_knfn/error/502']) {
      const reply = await get(path);
      expect(reply.status).toBe(404);
      expect(reply.headers['content-type']).toBe('application/json');
      expect(reply.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
      expect(json(reply)).toEqual(notFound('GET', path));
    }
    expect(json(await send(port, '/nope', { method: 'DELETE' }))).toEqual(notFound('DELETE', '/nope'));
  });

  it("never lets a path reach a function's /metrics by dot segments, encoded slashes or doubled slashes", async () => {
    const before = [...standIns.values()].reduce((sum, { hits }) => sum + hits.length, 0);
    for (const path of ['/view/../metrics', '/view/%2e%2e/metrics', '/pingpong/..%2fmetrics', '/pingpong/%2E%2E%2Fmetrics']) {
      const reply = await get(path);
      expect([path, reply.status, json(reply)]).toEqual([path, 404, notFound('GET', '/metrics')]);
    }
    expect(json(await get('//metrics'))).toEqual(notFound('GET', '//metrics'));
    // Hono would not route //pingpong either: slashes are not merged.
    expect(json(await get('//pingpong'))).toEqual(notFound('GET', '//pingpong'));
    expect([...standIns.values()].reduce((sum, { hits }) => sum + hits.length, 0)).toBe(before);
  });

  it('keeps the 404 valid JSON for a path that cannot sit in a JSON string', async () => {
    const generic = { error: { code: 'not_found', message: 'no route for this path' } };
    for (const path of ['/a%22b', '/a%5C', '/nope%0A', '/%E2%9C%93', '/pingpong%0A', '/view%0A']) {
      expect([path, json(await get(path))]).toEqual([path, generic]);
    }
    const raw = rawStatusAndBody(await sendRaw(port, 'GET /a"b\\"} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(raw).toEqual({ status: 404, contentType: 'application/json', body: generic });
  });

  it('routes a %2F-encoded slash as nginx decodes it: to a 404, where Hono would take it as one segment', async () => {
    expect(createRouteTable(routes)('/api/locations/a%2Fb')).toBe('locations');
    expect(json(await get('/api/locations/a%2Fb'))['function']).toBe('api');
    expect(json(await get('/view%2Fx'))).toEqual(notFound('GET', '/view/x'));
  });

  it('answers a body over the limit with a JSON 413 the client reads, and lets one at the limit through', async () => {
    const over = await send(port, '/save', { method: 'POST', body: Buffer.alloc(2048, 'x'), headers: { 'content-length': '2048' } });
    expect(over.status).toBe(413);
    expect(over.headers['content-type']).toBe('application/json');
    expect(json(over)).toEqual({ error: { code: 'payload_too_large', message: 'request body exceeds 1024 bytes' } });
    const at = await send(port, '/save', { method: 'POST', body: Buffer.alloc(1024, 'x'), headers: { 'content-length': '1024' } });
    expect(json(at)).toMatchObject({ function: 'save', method: 'POST', bodyBytes: 1024 });
  });

  it('answers a function that is down with a JSON 502 and Retry-After, and logs it as an error', async () => {
    const reply = await get('/gone', { 'x-request-id': 'gone-1' });
    expect(reply.status).toBe(502);
    expect(reply.headers['retry-after']).toBe('1');
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.headers['x-request-id']).toBe('gone-1');
    expect(json(reply)).toEqual({ error: { code: 'function_unavailable', message: 'the function is unavailable; retry shortly' } });
    const line = await logLine(lines, (entry) => entry['requestId'] === 'gone-1');
    expect(line).toMatchObject({ level: 'error', path: '/gone', status: 502, function: 'gone', upstreamStatus: '502' });
  });

  it('answers a function slower than readTimeoutSeconds with a JSON 504', async () => {
    const reply = await get('/pingpong?delayMs=1500');
    expect(reply.status).toBe(504);
    expect(json(reply)).toEqual({ error: { code: 'function_timeout', message: 'the function did not answer in time' } });
  });

  it('closes a request whose body stalls past clientBodyTimeoutSeconds, without a response (nginx sends no 408)', async () => {
    const started = Date.now();
    const request = send(port, '/save', { method: 'POST', headers: { 'content-length': '10', 'x-request-id': 'stalled-1' }, body: 'ab', endBody: false });
    await expect(request).rejects.toThrow('socket hang up');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await logLine(lines, (entry) => entry['requestId'] === 'stalled-1')).toMatchObject({ status: 408, function: 'save' });
  });

  it("passes the function's own errors and redirects through untouched", async () => {
    const failed = await get('/pingpong?status=500');
    expect(failed.status).toBe(500);
    expect(json(failed)).toMatchObject({ function: 'pingpong', url: '/pingpong?status=500' });
    const missing = await get('/api/locations/atlantis?status=404');
    expect(missing.status).toBe(404);
    expect(json(missing)).toMatchObject({ function: 'locations' });
    const unavailable = await get('/pingpong?status=503');
    expect([unavailable.status, unavailable.headers['retry-after'], json(unavailable)['function']]).toEqual([503, undefined, 'pingpong']);
    const redirect = await get('/save?status=303&location=/view%3Fsaved%3D1');
    expect(redirect.status).toBe(303);
    expect(redirect.headers.location).toBe('/view?saved=1');
  });

  it('streams a response through as the function writes it', async () => {
    const reply = await get('/files/big?stream=200000');
    expect(reply.status).toBe(200);
    expect(reply.body.equals(streamBody(200_000))).toBe(true);
    // The first kilobyte was written 300 ms before the rest; buffering would deliver it all at once.
    expect(reply.spreadMs).toBeGreaterThanOrEqual(200);
  });

  it('answers requests nginx cannot parse in the same JSON shape', async () => {
    const malformed = rawStatusAndBody(await sendRaw(port, 'GARBAGE\r\n\r\n'));
    expect(malformed).toEqual({ status: 400, contentType: 'application/json', body: { error: { code: 'bad_request', message: 'the request is malformed' } } });
    const longUri = rawStatusAndBody(await sendRaw(port, `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`));
    expect(longUri).toMatchObject({ status: 414, body: { error: { code: 'request_too_large' } } });
    const bigHeader = rawStatusAndBody(await sendRaw(port, `GET /pingpong HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`));
    expect(bigHeader).toMatchObject({ status: 431, body: { error: { code: 'request_too_large', message: 'the request headers are too large' } } });
    const version = rawStatusAndBody(await sendRaw(port, 'GET /pingpong HTTP/2.0\r\nHost: x\r\n\r\n'));
    expect(version).toMatchObject({ status: 505, contentType: 'application/json' });
    const trace = rawStatusAndBody(await sendRaw(port, 'TRACE /pingpong HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(trace).toMatchObject({ status: 405, body: { error: { code: 'method_not_allowed' } } });
  });

  it('never names its version', async () => {
    for (const reply of [await get('/pingpong'), await get('/nope'), await get('/gone')]) {
      expect(reply.headers.server).toBe('nginx');
      expect(reply.text).not.toMatch(/nginx/i);
    }
  });

  it('answers GET /healthz on the probe port, and nothing else there', async () => {
    const health = await send(probePort, '/healthz');
    expect([health.status, health.headers['content-type'], json(health)]).toEqual([200, 'application/json', { status: 'ok' }]);
    const other = await send(probePort, '/pingpong');
    expect([other.status, json(other)]).toEqual([404, notFound('GET', '/pingpong')]);
    expect((await send(probePort, '/healthz', { method: 'POST' })).status).toBe(405);
    expect(standIns.get('pingpong')?.hits).not.toContain('/healthz');
  });
});

describe.skipIf(!nginxResolves)(`the nginx gateway with DNS names (${needsResolve})`, () => {
  let nginx: RunningNginx;
  let dns: FakeDns;
  let standIn: StandIn;
  let port: number;

  beforeAll(async () => {
    standIn = await startStandIn('late');
    dns = await startFakeDns();
    port = await freePort();
    const upstreams = { late: { address: `late.default.svc.cluster.local:${standIn.port}`, host: 'late.default.svc.cluster.local' } };
    const resolver = { address: `127.0.0.1:${dns.port}`, validSeconds: 1 };
    const render = (files: NginxFiles) => renderNginxConfig(settings({ listen: { address: '127.0.0.1', port }, routes: [route('/late', 'late')], upstreams, resolver, files }));
    nginx = await startNginx({ binary: nginxBinary(), render, port });
  });

  afterAll(async () => {
    await nginx?.stop();
    standIn?.server.close();
    dns?.socket.close();
  });

  it('starts before a function is deployed, finds it once it is, and keeps its connection', async () => {
    const early = await send(port, '/late');
    expect([early.status, JSON.parse(early.text)]).toEqual([502, { error: { code: 'function_unavailable', message: 'the function is unavailable; retry shortly' } }]);
    expect(dns.asked).toContain('late.default.svc.cluster.local');

    dns.records.set('late.default.svc.cluster.local', [127, 0, 0, 1]);
    // nginx asks again once the negative answer's valid= (1 s) is over, in the background.
    let deployed = early;
    for (const started = Date.now(); deployed.status === 502 && Date.now() - started < 5000; await sleep(100)) deployed = await send(port, '/late?x=1');
    expect(JSON.parse(deployed.text)).toMatchObject({ function: 'late', url: '/late?x=1', host: 'late.default.svc.cluster.local' });
    for (let i = 0; i < 5; i++) expect((await send(port, '/late')).status).toBe(200);
    expect(standIn.accepted()).toBe(1);
  });
});

describe('the nginx gateway keeping connections to functions alive', () => {
  let nginx: RunningNginx;
  let port: number;
  const standIns = new Map<string, StandIn>();
  /** Answers the first request on each connection; drops the connection on any later one, unanswered. */
  let dropsReused: StandIn;

  beforeAll(async () => {
    for (const name of ['steady', 'burst', 'idle']) standIns.set(name, await startStandIn(name));
    // Longer than nginx's keepalive_timeout by far, so only nginx can close an idle connection here.
    for (const { server } of standIns.values()) server.keepAliveTimeout = 30_000;
    dropsReused = await startStandIn('drops');
    dropsReused.server.removeAllListeners('request');
    const served = new WeakSet<object>();
    dropsReused.server.on('request', (incoming: IncomingMessage, outgoing: ServerResponse) => {
      dropsReused.hits.push(`${incoming.method ?? ''} ${incoming.url ?? ''}`);
      if (served.has(incoming.socket)) {
        incoming.socket.destroy();
        return;
      }
      served.add(incoming.socket);
      incoming.resume();
      incoming.on('end', () => outgoing.end('{}'));
    });
    standIns.set('drops', dropsReused);
    port = await freePort();
    const upstreams = Object.fromEntries([...standIns].map(([name, standIn]) => [name, { address: `127.0.0.1:${standIn.port}`, host: name }]));
    const render = (files: NginxFiles) =>
      renderNginxConfig(settings({ listen: { address: '127.0.0.1', port }, routes: [...standIns.keys()].map((name) => route(`/${name}`, name)), upstreams, files }));
    nginx = await startNginx({ binary: nginxBinary(), render, port });
  });

  afterAll(async () => {
    await nginx?.stop();
    for (const { server } of standIns.values()) server.close();
  });

  it('sends many requests from many clients over one connection to the function', async () => {
    const steady = standIns.get('steady');
    for (let i = 0; i < 20; i++) expect((await send(port, `/steady?i=${i}`)).status).toBe(200);
    expect(steady?.hits).toHaveLength(20);
    expect(steady?.accepted()).toBe(1);
  });

  it('opens connections for concurrent requests once, and the next burst reuses them', async () => {
    const burst = standIns.get('burst');
    const statuses = async () => (await Promise.all(Array.from({ length: 8 }, () => send(port, '/burst?delayMs=100')))).map((reply) => reply.status);
    expect(await statuses()).toEqual(Array(8).fill(200));
    const opened = burst?.accepted() ?? 0;
    expect(opened).toBeGreaterThan(1);
    expect(opened).toBeLessThanOrEqual(8);
    expect(await statuses()).toEqual(Array(8).fill(200));
    expect(burst?.accepted()).toBe(opened);
  });

  it('closes an idle connection itself after 4 s, before a Node server (5 s) would', { timeout: 15_000 }, async () => {
    const idle = standIns.get('idle');
    const closedByNginx = new Promise<number>((resolve) => idle?.server.once('connection', (socket: Socket) => socket.once('end', () => resolve(Date.now()))));
    expect((await send(port, '/idle')).status).toBe(200);
    const answered = Date.now();
    const idleMs = (await closedByNginx) - answered;
    expect(idleMs).toBeGreaterThanOrEqual(3500);
    expect(idleMs).toBeLessThan(5000);
    expect((await send(port, '/idle')).status).toBe(200);
    expect(idle?.accepted()).toBe(2);
  });

  it('never sends a POST twice: a reused connection dropped under it is a JSON 502, not a retry', async () => {
    expect((await send(port, '/drops?n=1')).status).toBe(200);
    const body = '{"data":"once"}';
    const reply = await send(port, '/drops?n=2', { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } });
    expect(reply.status).toBe(502);
    expect(JSON.parse(reply.text)).toEqual({ error: { code: 'function_unavailable', message: 'the function is unavailable; retry shortly' } });
    await sleep(200);
    expect(dropsReused.hits).toEqual(['GET /drops?n=1', 'POST /drops?n=2']);
    expect(dropsReused.accepted()).toBe(1);
  });
});

// The gateway behind an Ingress: 127.0.0.1 plays the Ingress controller, 127.0.0.2 anyone else.
describe('the nginx gateway taking the client address from a trusted ingress', () => {
  let nginx: RunningNginx;
  let standIn: StandIn;
  let port: number;

  beforeAll(async () => {
    standIn = await startStandIn('pingpong');
    port = await freePort();
    const upstreams = { pingpong: { address: `127.0.0.1:${standIn.port}`, host: 'pingpong' } };
    const render = (files: NginxFiles) =>
      renderNginxConfig(settings({ listen: { address: '127.0.0.1', port }, routes: [route('/pingpong', 'pingpong')], upstreams, files, realIpFrom: ['127.0.0.1', '10.0.0.0/8'] }));
    nginx = await startNginx({ binary: nginxBinary(), render, port });
  });

  afterAll(async () => {
    await nginx?.stop();
    standIn?.server.close();
  });

  const forwardedFor = async (options: { xff?: string; localAddress?: string }) => {
    const reply = await send(port, '/pingpong', { headers: options.xff === undefined ? {} : { 'x-forwarded-for': options.xff }, ...options });
    return (JSON.parse(reply.text) as Echo).headers['x-forwarded-for'];
  };

  it('sends the last address the trusted proxies did not add, whatever the caller put before it', async () => {
    // The ingress appended what it saw (203.0.113.9) to the caller's forged 198.51.100.7.
    expect(await forwardedFor({ xff: '198.51.100.7, 203.0.113.9' })).toBe('203.0.113.9');
    // An internal hop the settings trust is skipped too.
    expect(await forwardedFor({ xff: '198.51.100.7, 203.0.113.9, 10.1.2.3' })).toBe('203.0.113.9');
    expect(await forwardedFor({})).toBe('127.0.0.1');
  });

  it('ignores X-Forwarded-For from a connection it does not trust', async () => {
    expect(await forwardedFor({ xff: '203.0.113.9', localAddress: '127.0.0.2' })).toBe('127.0.0.2');
  });

  it('refuses an entry that is not an address or range', () => {
    expect(() => renderNginxConfig(settings({ routes: [], upstreams: {}, realIpFrom: ['10.0.0.0/40'] }))).toThrow('realIpFrom entry "10.0.0.0/40"');
  });
});

// ---- Helpers ---------------------------------------------------------------------------------

async function logLine(lines: readonly string[], predicate: (entry: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  // nginx writes the access log after the response, so the line may trail the reply briefly.
  for (let waited = 0; waited < 2000; waited += 20) {
    const found = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find(predicate);
    if (found !== undefined) return found;
    await sleep(20);
  }
  throw new Error(`no access log line matched among:\n${lines.join('\n')}`);
}

interface FakeDns {
  port: number;
  socket: UdpSocket;
  records: Map<string, number[]>;
  asked: string[];
}

/** A DNS server for A records it is told about: NXDOMAIN for the rest, no AAAA answers. */
async function startFakeDns(): Promise<FakeDns> {
  const records = new Map<string, number[]>();
  const asked: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    const labels: string[] = [];
    let offset = 12;
    for (let length = query[offset] ?? 0; length > 0; length = query[offset] ?? 0) {
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString());
      offset += 1 + length;
    }
    const questionEnd = offset + 5;
    const name = labels.join('.');
    const type = query.readUInt16BE(offset + 1);
    asked.push(name);
    const address = records.get(name);
    const answers = address !== undefined && type === 1 ? [Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, ...address])] : [];
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(address === undefined ? 0x8183 : 0x8180, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, socket, records, asked };
}
