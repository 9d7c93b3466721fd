import { describe, expect, it, beforeAll } from 'vitest';
import { expectOnlyPublicRoutes, gatewayEvents, gatewayPerBlock, isAlive, logLines, runningBundles, spawnIsolated, waitFor } from './support/isolated.ts';
import type { Gateway } from './support/isolated.ts';
import { expectReadmeExamplesToHold } from './support/readme-examples.ts';
import { revisionName } from '../scripts/manifests.ts';
import { defaultRelease } from '../scripts/release.ts';

const idleMs = 400;

describe('npm start -- --isolated', () => {
  let gateway: Gateway;
  const setup = gatewayPerBlock({ ISOLATED_IDLE_MS: String(idleMs) });
  beforeAll(() => {
    gateway = setup.gateway();
  });

  it('cold-starts pingpong on its first request, serves warm, scales to zero when idle and cold-starts again', async () => {
    const first = await fetch(`${gateway.url}/pingpong`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('pong 1');
    expect(first.headers.get('x-knfn-cold-start')).toMatch(/^\d+$/);
    const [started] = gatewayEvents(gateway, 'cold start', 'pingpong');
    const pid = started?.pid ?? -1;

    const second = await fetch(`${gateway.url}/pingpong`);
    const warmAt = Date.now();
    expect(await second.text()).toBe('pong 2');
    expect(second.headers.get('x-knfn-cold-start')).toBeNull();
    expect(isAlive(pid)).toBe(true);

    await waitFor(() => gatewayEvents(gateway, 'scaled to zero', 'pingpong').length === 1, 5000, 'scale to zero');
    expect(Date.now() - warmAt).toBeGreaterThanOrEqual(idleMs - 50);
    await waitFor(() => !isAlive(pid), 2000, `process ${pid} to be gone`);

    const third = await fetch(`${gateway.url}/pingpong`);
    expect(await third.text()).toBe('pong 3');
    expect(third.headers.get('x-knfn-cold-start')).toMatch(/^\d+$/);
    const starts = gatewayEvents(gateway, 'cold start', 'pingpong');
    expect(starts).toHaveLength(2);
    expect(starts[1]?.pid).not.toBe(pid);
  });

  it('starts exactly one process for concurrent first requests, each getting a unique number', async () => {
    await waitFor(() => gatewayEvents(gateway, 'scaled to zero', 'pingpong').length === 2, 5000, 'scale to zero');
    const responses = await Promise.all(Array.from({ length: 12 }, () => fetch(`${gateway.url}/pingpong`)));
    const bodies = await Promise.all(responses.map((response) => response.text()));
    expect(responses.map((response) => response.status)).toEqual(Array(12).fill(200));
    expect(bodies.map((body) => Number(body.replace('pong ', ''))).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, index) => index + 4),
    );
    expect(gatewayEvents(gateway, 'cold start', 'pingpong')).toHaveLength(3);
    expect(responses.some((response) => response.headers.get('x-knfn-cold-start') !== null)).toBe(true);
  });

  it('runs each function with the container env contract: FUNCTION, K_SERVICE, K_REVISION, its own PORT', () => {
    const gatewayPort = new URL(gateway.url).port;
    const childListening = logLines(gateway.output()).filter((line) => line.msg === 'listening' && line.service === 'pingpong');
    expect(childListening.length).toBe(3);
    for (const line of childListening) {
      expect(line.revision).toBe(revisionName('pingpong', defaultRelease()));
      expect(line.functions).toEqual(['pingpong']);
      expect(new URL(line.url ?? '').port).not.toBe(gatewayPort);
    }
    // The gateway migrated once; no function process migrates on its cold start.
    const migrations = logLines(gateway.output()).filter((line) => line.msg === 'migrations applied');
    expect(migrations.map((line) => line.service)).toEqual([undefined]);
  });

  it('routes save -> K_SINK -> message-worker -> view and log-output -> PINGS_URL through the gateway', async () => {
    const saved = await fetch(`${gateway.url}/save`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: 'hello from isolated processes' }),
    });
    expect(saved.status).toBe(202);
    const { id } = (await saved.json()) as { id: string };
    const view = await fetch(`${gateway.url}/view`, { headers: { Accept: 'application/json' } });
    const page = (await view.json()) as { items: Array<{ eventId: string; data: string }> };
    expect(page.items.map((item) => [item.eventId, item.data])).toEqual([[id, 'hello from isolated processes']]);

    const logOutput = await fetch(`${gateway.url}/log-output`);
    expect(await logOutput.text()).toMatch(/\nPing \/ Pongs: 15$/);
    for (const name of ['save', 'message-worker', 'message-board', 'log-output', 'pings']) {
      expect(gatewayEvents(gateway, 'cold start', name).length, name).toBeGreaterThanOrEqual(1);
    }
  });

  it('answers runtime and unknown paths with the JSON 404, as the cluster gateway does', async () => {
    await expectOnlyPublicRoutes(gateway.url);
  });

  it('replaces a function process that died: the next request cold-starts a new one', async () => {
    expect((await fetch(`${gateway.url}/api/time`)).status).toBe(200);
    // Log lines reach stdout in batches: wait for the line rather than read it at once.
    await waitFor(() => gatewayEvents(gateway, 'cold start', 'time').length === 1, 5000, 'the cold start line');
    const [crashed] = gatewayEvents(gateway, 'cold start', 'time');
    // Never a fallback pid: kill(-1) signals every process this user may signal.
    if (crashed?.pid === undefined || crashed.pid <= 0) throw new Error('the cold start line of time names no pid');
    process.kill(crashed.pid, 'SIGKILL');
    await waitFor(() => gatewayEvents(gateway, 'function process exited unexpectedly', 'time').length === 1, 5000, 'the exit');

    const next = await fetch(`${gateway.url}/api/time`);
    expect(next.status).toBe(200);
    expect(next.headers.get('x-knfn-cold-start')).toMatch(/^\d+$/);
    expect(gatewayEvents(gateway, 'cold start', 'time').map((line) => line.pid === crashed?.pid)).toEqual([true, false]);
  });

  it('stops every function process and exits 0 on SIGTERM', async () => {
    const warm = await fetch(`${gateway.url}/pings`);
    expect(warm.status).toBe(200);
    const pids = logLines(gateway.output())
      .filter((line) => line.msg === 'cold start' && line.service === undefined)
      .flatMap((line) => (line.pid === undefined ? [] : [line.pid]));
    expect(pids.some(isAlive)).toBe(true);

    gateway.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
  });
});

describe('npm start -- --isolated refuses to start', () => {
  it('without DATABASE_URL, in one line saying so', async () => {
    const gateway = spawnIsolated({});
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toMatch(/^knfn: --isolated needs DATABASE_URL .*\n$/);
  });

  it('with a bad ISOLATED_IDLE_MS, naming the variable', async () => {
    const gateway = spawnIsolated({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', ISOLATED_IDLE_MS: 'soon' });
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toContain('ISOLATED_IDLE_MS');
  });
});

describe('npm start -- --isolated when a function cannot start in time', () => {
  let gateway: Gateway;
  // No Node process answers within 1 ms, so every cold start times out.
  const setup = gatewayPerBlock({ ISOLATED_START_TIMEOUT_MS: '1' });
  beforeAll(() => {
    gateway = setup.gateway();
  });

  it('answers 503 cold_start_failed with Retry-After, leaves no process behind, and tries afresh next time', async () => {
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      const response = await fetch(`${gateway.url}/pingpong`);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('cold_start_failed');
      expect(body.error.message).toMatch(/pingpong/);
    }
    await waitFor(() => gatewayEvents(gateway, 'cold start failed', 'pingpong').length === 2, 5000, 'two failed cold starts');
    // Each timed-out process was killed: none runs this gateway's pingpong bundle any more.
    expect(runningBundles(`${setup.dataDir}/isolated/dist/functions/pingpong/`)).toEqual([]);
  });
});

describe('npm start -- --isolated without nginx (ISOLATED_GATEWAY=node)', () => {
  let gateway: Gateway;
  const setup = gatewayPerBlock({ ISOLATED_GATEWAY: 'node' });
  beforeAll(() => {
    gateway = setup.gateway();
  });

  it('serves the public port with the Node stand-in, saying so', () => {
    const [listening] = logLines(gateway.output()).filter((line) => line.msg === 'listening' && line.service === undefined);
    expect(listening?.gateway).toBe('node');
  });

  it("routes the README's examples and hides the same paths as the nginx gateway", async () => {
    await expectReadmeExamplesToHold(new URL(gateway.url).host);
    await expectOnlyPublicRoutes(gateway.url);
  });
});
