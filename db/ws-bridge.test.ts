import { Client, neonConfig } from '@neondatabase/serverless';
import ws from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl } from '../test/support/postgres.ts';
import { startWsBridge } from './ws-bridge.ts';
import type { WsBridge } from './ws-bridge.ts';

describe('WebSocket bridge to PostgreSQL', () => {
  const target = new URL(adminUrl);
  let bridge: WsBridge;
  beforeAll(async () => {
    bridge = await startWsBridge({
      target: { host: target.hostname, port: Number(target.port || 5432) },
      log: { debug: () => {}, warn: () => {}, error: () => {} },
    });
    neonConfig.webSocketConstructor = ws;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  });
  afterAll(() => bridge.close());

  it('carries the neon driver to the real server on loopback', async () => {
    expect(bridge.proxyAddress).toMatch(/^127\.0\.0\.1:\d+\/v1$/);
    neonConfig.wsProxy = bridge.proxyAddress;
    const client = new Client(adminUrl);
    await client.connect();
    const result = await client.query<{ sum: number }>('select $1::int + 2 as sum', [40]);
    await client.end();
    expect(result.rows).toEqual([{ sum: 42 }]);
  });

  it('refuses to open any address but its target', async () => {
    neonConfig.wsProxy = (_host, _port) => `${bridge.proxyAddress}?address=10.0.0.1:5432`;
    const client = new Client(adminUrl);
    await expect(client.connect()).rejects.toBeDefined();
  });
});
