import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { loadConfig } from '../runtime/config.ts';
import { startServer } from '../runtime/server.ts';
import type { RunningServer } from '../runtime/server.ts';

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
  error: string | undefined;
}

/**
 * Writes `request` as raw bytes (what fetch would refuse to send) and reads until the server
 * closes. With `uploadBytes`, then uploads that many more bytes in 64 KiB writes every `everyMs`
 * without reading, and reads only afterwards: a client that looks at the answer once it has sent
 * everything, as many do.
 */
function rawRequest(port: number, request: string, upload?: { bytes: number; everyMs: number }): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let error: string | undefined;
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', (cause: NodeJS.ErrnoException) => (error = cause.code ?? cause.message));
    socket.on('close', () => {
      const [head = '', body = ''] = received.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? 0), headers, body, error });
    });
    socket.write(request);
    if (!upload) return;
    socket.pause();
    let sent = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || sent >= upload.bytes) {
        clearInterval(timer);
        socket.resume();
        return;
      }
      socket.write(Buffer.alloc(64 * 1024, 'x'));
      sent += 64 * 1024;
    }, upload.everyMs);
  });
}

const oneMiB = 1024 * 1024;

describe('refusals before and around a handler', () => {
  let server: RunningServer;
  beforeAll(async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', REQUEST_TIMEOUT_MS: '1500', MAX_BODY_BYTES: String(oneMiB) });
    server = await startServer({ ...config, database: { kind: 'pglite', dataDir: 'memory://', migrateOnStart: true } }, allFunctions);
  });
  afterAll(() => server?.stop());

  const expectShape = (answer: RawAnswer, status: number, code: string) => {
    expect([answer.status, answer.headers.get('content-type')]).toEqual([status, 'application/json']);
    expect(answer.headers.get('connection')).toBe('close');
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Number(answer.headers.get('content-length'))).toBe(Buffer.byteLength(answer.body));
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code } });
  };

  it("answers headers or a URL beyond Node's limit 431 in the JSON shape", async () => {
    const bigHeader = await rawRequest(server.port, `GET /pingpong HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectShape(bigHeader, 431, 'request_header_fields_too_large');
    const bigUrl = await rawRequest(server.port, `GET /pings?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expectShape(bigUrl, 431, 'request_header_fields_too_large');
  });

  it('answers a malformed request line or header 400 in the JSON shape', async () => {
    for (const request of ['NOT HTTP AT ALL\r\n\r\n', 'GET /pings HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', 'GET /pings HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n']) {
      expectShape(await rawRequest(server.port, request), 400, 'bad_request');
    }
  });

  it('answers a request whose headers or body stall past REQUEST_TIMEOUT_MS 408 in the JSON shape', async () => {
    const headers = await rawRequest(server.port, 'GET /pings HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expectShape(headers, 408, 'request_timeout');
    const body = await rawRequest(server.port, 'POST /api/locations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":"s');
    expectShape(body, 408, 'request_timeout');
  });

  it('lets fetch read the 413 of a body several times MAX_BODY_BYTES, every time', async () => {
    const body = new Uint8Array(8 * oneMiB).fill(120);
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const response = await fetch(`${server.url}/api/locations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        outcomes.push(`${response.status} ${((await response.json()) as { error: { code: string } }).error.code}`);
      } catch (error) {
        outcomes.push(`failed: ${String((error as Error).cause ?? error)}`);
      }
    }
    expect(outcomes).toEqual(Array.from({ length: 20 }, () => '413 payload_too_large'));
  });

  it('keeps reading a refused upload, so a client that reads after sending still gets its 413', async () => {
    // 8 MiB over about 1.3 s: longer than node-server's own 500 ms drain, after which it used to
    // close the socket mid-upload and the client saw only a broken pipe.
    const head = `POST /api/locations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${8 * oneMiB}\r\n\r\n`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await rawRequest(server.port, head, { bytes: 8 * oneMiB, everyMs: 10 });
      expect(answer.status, answer.error).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'payload_too_large' } });
    }
  });
});
