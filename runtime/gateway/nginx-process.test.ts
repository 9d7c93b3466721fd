import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../isolated/free-port.ts';
import { renderNginxConfig } from './nginx-config.ts';
import type { NginxGatewaySettings } from './nginx-config.ts';
import { findNginx, startNginx, testNginxConfig } from './nginx-process.ts';
import type { NginxFiles } from './nginx-process.ts';

function nginxBinary(): string {
  const binary = findNginx();
  if (binary === undefined) throw new Error('these tests run real nginx, which is not installed: apt-get install nginx');
  return binary;
}

function gatewayConfig(port: number, upstreamPort: number, files: NginxFiles): string {
  const settings: NginxGatewaySettings = {
    listen: { address: '127.0.0.1', port },
    routes: [{ path: '/slow', function: 'slow' }],
    upstreams: { slow: { address: `127.0.0.1:${upstreamPort}`, host: 'slow' } },
    limits: { maxBodyBytes: 1024, connectTimeoutSeconds: 1, readTimeoutSeconds: 5, sendTimeoutSeconds: 5, clientBodyTimeoutSeconds: 5 },
    files,
    workerProcesses: 2,
    accessLog: 'stdout',
  };
  return renderNginxConfig(settings);
}

/** Processes whose parent is `pid`, read from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // Field 4 of stat, after the parenthesised command name.
        return readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const isAlive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');

describe('nginx as a child process', () => {
  it('is found in /usr/sbin and its kin even when PATH leaves sbin out', () => {
    const path = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      expect(findNginx()).toMatch(/^\/usr(\/local)?(\/nginx)?\/sbin\/nginx$/);
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('reports what nginx -t says about a broken config', async () => {
    const verdict = await testNginxConfig(nginxBinary(), () => 'events {}\nhttp { proxy_bufering off; }\n');
    expect(verdict.ok).toBe(false);
    expect(verdict.output).toContain('unknown directive "proxy_bufering"');
  });

  it("rejects with nginx's own words when it exits at start, and leaves no directory behind", async () => {
    let dir = '';
    const start = startNginx({
      binary: nginxBinary(),
      port: await freePort(),
      render: (files) => {
        dir = dirname(files.pid);
        return 'events {}\nhttp { listen_nowhere on; }\n';
      },
    });
    await expect(start).rejects.toThrow(/nginx did not start: it exited with code 1\n.*unknown directive "listen_nowhere"/);
    expect(existsSync(dir)).toBe(false);
  });

  it('does not mistake a port someone else holds for its own', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as AddressInfo;
    try {
      const start = startNginx({ binary: nginxBinary(), port, render: (files) => gatewayConfig(port, 1, files), startTimeoutMs: 10_000 });
      await expect(start).rejects.toThrow(/bind\(\) to 127\.0\.0\.1:\d+ failed \(98: Address already in use\)/);
    } finally {
      squatter.close();
    }
  });

  it('stops gracefully: an in-flight request completes, master and workers exit, the directory goes', async () => {
    const upstream = createServer((_incoming, outgoing) => {
      setTimeout(() => outgoing.end('done'), 400);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = await freePort();
    let dir = '';
    const lines: string[] = [];
    const nginx = await startNginx({
      binary: nginxBinary(),
      port,
      render: (files) => {
        dir = dirname(files.pid);
        return gatewayConfig(port, (upstream.address() as AddressInfo).port, files);
      },
      onLine: (line, stream) => stream === 'stdout' && lines.push(line),
    });
    const workers = childrenOf(nginx.pid);
    expect(workers).toHaveLength(2);
    expect(readFileSync(`${dir}/nginx.pid`, 'utf8').trim()).toBe(String(nginx.pid));

    const inFlight = new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/slow', agent: false }, (incoming) => {
        let body = '';
        incoming.on('data', (chunk: Buffer) => (body += chunk.toString()));
        incoming.on('end', () => resolve(`${incoming.statusCode} ${body}`));
      }).on('error', reject);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await nginx.stop();

    expect(await inFlight).toBe('200 done');
    expect(await nginx.exited).toEqual({ code: 0, signal: null });
    expect([nginx.pid, ...workers].filter(isAlive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(JSON.parse(lines.at(-1) ?? '{}')).toMatchObject({ path: '/slow', status: 200, function: 'slow' });
    upstream.close();
  });
});
