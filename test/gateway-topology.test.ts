import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import logOutput from '../functions/log-output/index.ts';
import { functionService } from '../scripts/manifests.ts';
import { launchChromium, saveThroughTheForm, showMarkupAsText } from './support/browser.ts';
import { expectOnlyPublicRoutes, gatewayEvents, gatewayPerBlock, isAlive, logLines, waitFor } from './support/isolated.ts';
import type { Gateway } from './support/isolated.ts';
import { expectReadmeExamplesToHold } from './support/readme-examples.ts';

/**
 * The cluster's topology on this machine: real nginx with the generated gateway configuration in
 * front of one process per function, each started from its production bundle with the environment
 * of its generated Knative Service, against real PostgreSQL (`npm start -- --isolated`).
 */
describe('the public gateway in front of cluster-local functions (real nginx)', () => {
  let gateway: Gateway;
  let browser: Browser;
  const setup = gatewayPerBlock({ ISOLATED_GATEWAY: 'nginx', ISOLATED_IDLE_MS: '1500', STATS_FLUSH_INTERVAL_MS: '300' });
  beforeAll(async () => {
    gateway = setup.gateway();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('is served by nginx, with each function on its own cluster-local address', () => {
    const [listening] = logLines(gateway.output()).filter((line) => line.msg === 'listening' && line.service === undefined);
    expect(listening?.gateway).toBe('nginx');
    const addresses = listening?.functions as Record<string, string>;
    expect(Object.keys(addresses).sort()).toEqual(allFunctions.map((definition) => definition.name).sort());
    for (const address of Object.values(addresses)) expect(new URL(address).port).not.toBe(new URL(gateway.url).port);
  });

  it("answers every README curl example as documented on the one public host", async () => {
    await expectReadmeExamplesToHold(new URL(gateway.url).host);
  });

  it('runs the message board end to end in Chromium: form, save, redirect, the escaped message on /view', async () => {
    await saveThroughTheForm(browser, gateway.url, 'Hello through the gateway');
    await showMarkupAsText(browser, gateway.url);
  });

  it('never routes the runtime, metrics or event paths from outside, and answers unknown paths with the JSON 404', async () => {
    await expectOnlyPublicRoutes(gateway.url);
  });

  it("starts each function with its generated manifest's environment, cluster addresses replaced by local ones", async () => {
    expect((await fetch(`${gateway.url}/log-output`)).status).toBe(200);
    const [started] = gatewayEvents(gateway, 'cold start', 'log-output').slice(-1);
    const environ = readFileSync(`/proc/${started?.pid ?? -1}/environ`, 'utf8').split('\0');
    const env = new Map(environ.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
    const manifestEnv = functionService(logOutput).spec?.template?.spec?.containers?.[0]?.env ?? [];
    expect(manifestEnv.map((variable) => variable.name)).toContain('PINGS_URL');
    for (const variable of manifestEnv) expect(env.has(variable.name), variable.name).toBe(true);
    expect(env.get('FUNCTION')).toBe('log-output');
    expect(env.get('MIGRATE_ON_START')).toBe('false');
    expect(env.get('DATABASE_URL')).toBe(setup.database().url);
    expect(env.get('K_SERVICE')).toBe('log-output');
    const [listening] = logLines(gateway.output()).filter((line) => line.msg === 'listening' && line.service === undefined);
    const pingsAddress = (listening?.functions as Record<string, string>)['pings'];
    expect(env.get('PINGS_URL')).toBe(`${pingsAddress}/pings`);
    expect(env.get('DATABASE_WS_PROXY')).toMatch(/^127\.0\.0\.1:\d+\/v1$/);
    // The manifest's redis://:$(REDIS_PASSWORD)@redis.knfn...: this machine's Redis, no password.
    expect(env.get('REDIS_URL')).toBe('redis://127.0.0.1:6379/0');
    expect(env.get('REDIS_PASSWORD')).toBe('');
    expect(env.get('TRUSTED_PROXIES')).toBe('127.0.0.1,::1');
    expect([...env.values()].filter((value) => value.includes('svc.cluster.local'))).toEqual([]);
  });

  it('answers log-output while pings is at zero: the call waits out pings cold start', async () => {
    await waitFor(
      () => {
        const starts = gatewayEvents(gateway, 'cold start', 'pings').length;
        return starts === 0 || gatewayEvents(gateway, 'scaled to zero', 'pings').length === starts;
      },
      10_000,
      'pings to scale to zero',
    );
    const pingsStartsBefore = gatewayEvents(gateway, 'cold start', 'pings').length;
    const answer = await fetch(`${gateway.url}/log-output`);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toMatch(/\nPing \/ Pongs: 1$/);
    expect(gatewayEvents(gateway, 'cold start', 'pings')).toHaveLength(pingsStartsBefore + 1);
  });

  it("records every public function's requests in /api/stats, those without database work included", async () => {
    const seen = async () => {
      const response = await fetch(`${gateway.url}/api/stats?window=15m`);
      const report = (await response.json()) as { endpoints: Array<{ function: string; route: string }> };
      return new Set(report.endpoints.map((endpoint) => endpoint.function));
    };
    const expected = allFunctions.filter((definition) => !definition.internal).map((definition) => definition.name);
    // message-worker is internal: its requests come from the Trigger (here the sink of save).
    await expect
      .poll(async () => [...(await seen())].sort(), { timeout: 15_000, interval: 300 })
      .toEqual([...expected, 'message-worker'].sort());
  });

  it('leaves no function process behind when stopped', async () => {
    const pids = logLines(gateway.output())
      .filter((line) => line.msg === 'cold start' && line.service === undefined)
      .map((line) => line.pid ?? -1);
    gateway.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
