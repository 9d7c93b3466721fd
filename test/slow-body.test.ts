import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { loadConfig } from '../runtime/config.ts';
import { startServer } from '../runtime/server.ts';
import type { RunningServer } from '../runtime/server.ts';

describe('a slow or truncated request body', () => {
  let server: RunningServer;
  beforeAll(async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', REQUEST_TIMEOUT_MS: '1500' });
    server = await startServer({ ...config, database: { kind: 'pglite', dataDir: 'memory://', migrateOnStart: true } }, allFunctions);
  });
  afterAll(() => server?.stop());

  it('is answered 408 and closed once REQUEST_TIMEOUT_MS has passed, not held open', async () => {
    const started = performance.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        // Promises 100 bytes of JSON and sends 10, as a stalled or malicious client would.
        socket.write('POST /api/locations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":"s');
      });
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });
    const seconds = (performance.now() - started) / 1000;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(seconds).toBeGreaterThan(1);
    expect(seconds).toBeLessThan(10);
  });
});
