import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latencyBoundsMs } from '../runtime/request-stats.ts';
import { launchChromium } from './support/browser.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnServer, stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';

const minuteMs = 60_000;
const screenshotDir = new URL('../.data/', import.meta.url).pathname;

/** Cumulative latency counts with every request in the bucket of `boundMs`, as the recorder stores them. */
function latency(requests: number, boundMs: number): number[] {
  return latencyBoundsMs.map((bound) => (bound >= boundMs ? requests : 0));
}

interface Seed {
  minutesAgo: number;
  function: string;
  route: string;
  requests: number;
  clientErrors?: number;
  serverErrors?: number;
  latencyMs: number;
  coldStarts?: number;
}

/**
 * A known shape over the last quarter hour: pingpong busy for 8 minutes at 2 req/s with one bad
 * minute, the board used in two separate minutes, and catch-all rows (404s, a 413 before routing)
 * that the page hides by default; one pingpong minute lies outside the 15 min window.
 */
const seeds: Seed[] = [
  ...Array.from({ length: 8 }, (_, i): Seed => ({
    minutesAgo: 10 - i,
    function: 'pingpong',
    route: '/pingpong',
    requests: 120,
    serverErrors: 10 - i === 6 ? 12 : 0,
    latencyMs: 10 - i === 6 ? 250 : 10,
    // Two instances started cold: one as the load began, one scaled out three minutes later.
    coldStarts: i === 0 || i === 3 ? 1 : 0,
  })),
  { minutesAgo: 40, function: 'pingpong', route: '/pingpong', requests: 600, latencyMs: 10 },
  { minutesAgo: 6, function: 'message-board', route: '/view', requests: 6, latencyMs: 250 },
  { minutesAgo: 2, function: 'message-board', route: '/view', requests: 6, clientErrors: 3, latencyMs: 25 },
  { minutesAgo: 4, function: 'pingpong', route: 'unmatched', requests: 30, clientErrors: 30, latencyMs: 1 },
  { minutesAgo: 4, function: 'save', route: '/*', requests: 5, clientErrors: 5, latencyMs: 1 },
];

/** The number of points in a chart's series: one M or L command per minute that has a value. */
async function pointsOf(page: Page, functionName: string, chart: string, series: string): Promise<number> {
  const d = await page.locator(`section[data-function="${functionName}"] svg[id$="-${chart}"] path[data-series="${series}"]`).getAttribute('d');
  return (d ?? '').match(/[ML]/g)?.length ?? 0;
}

describe('the stats dashboard in a real browser', () => {
  let database: TestDatabase;
  let server: SpawnedProcess & { url: string };
  let browser: Browser;

  beforeAll(async () => {
    database = await createTestDatabase();
    // Statistics of the test's own requests are only flushed at shutdown, so the page shows the seed alone.
    server = await spawnServer({ DATABASE_URL: database.url, STATS_FLUSH_INTERVAL_MS: '3600000', TZ: 'UTC' });
    const thisMinute = Date.now() - (Date.now() % minuteMs);
    for (const seed of seeds) {
      const start = thisMinute - seed.minutesAgo * minuteMs;
      await database.query(
        `insert into request_stats (bucket_start, function, method, route, requests, client_errors, server_errors, duration_ms_sum, latency_counts, last_seen, process_starts)
         values ($1, $2, 'GET', $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          new Date(start),
          seed.function,
          seed.route,
          seed.requests,
          seed.clientErrors ?? 0,
          seed.serverErrors ?? 0,
          seed.requests * seed.latencyMs,
          latency(seed.requests, seed.latencyMs),
          new Date(start + 30_000),
          seed.coldStarts ?? 0,
        ],
      );
    }
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stopProcess(server);
    await database?.drop();
  });

  it("says how many cold starts each function had in the window", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/stats?window=15m`);
    expect(await page.locator('section[data-function="pingpong"] p.note').textContent()).toContain('2 cold starts');
    expect(await page.locator('section[data-function="message-board"] p.note').textContent()).toContain('0 cold starts');
    await page.close();
  });

  it('charts each function per minute under a strict CSP, hides catch-all rows, and reads as human times', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    const response = await page.goto(`${server.url}/stats?window=15m`);
    expect(response?.status()).toBe(200);
    const policy = response?.headers()['content-security-policy'] ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toMatch(/style-src 'sha256-[A-Za-z0-9+/]+=*'/);
    expect(policy).not.toContain('unsafe-inline');
    expect(policy).not.toContain('script-src');
    mkdirSync(screenshotDir, { recursive: true });
    await page.screenshot({ path: `${screenshotDir}stats-dashboard.png`, fullPage: true });
    // The stylesheet applied (its hash matches) and nothing was refused.
    // (Expressions as strings: the project's TypeScript has no DOM types.)
    expect(await page.evaluate(`getComputedStyle(document.querySelector('.charts')).display`)).toBe('flex');
    expect(consoleErrors).toEqual([]);

    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('30');
    expect(await page.locator('section[data-function]').evaluateAll((sections) => sections.map((section) => section.getAttribute('data-function')))).toEqual([
      'pingpong',
      'message-board',
    ]);
    // 15 minutes touch 16 minute buckets; a rate is drawn for each, errors and p95 where there were requests.
    expect(await pointsOf(page, 'pingpong', 'rate', 'req/s')).toBe(16);
    expect(await pointsOf(page, 'message-board', 'rate', 'req/s')).toBe(16);
    expect(await pointsOf(page, 'pingpong', 'p95', 'p95')).toBe(8);
    expect(await pointsOf(page, 'pingpong', 'errors', '5xx')).toBe(8);
    expect(await pointsOf(page, 'message-board', 'p95', 'p95')).toBe(2);
    expect(await pointsOf(page, 'message-board', 'errors', '4xx')).toBe(2);
    // Every chart is an image with a name and a description a screen reader can read.
    const charts = page.locator('svg.chart');
    expect(await charts.count()).toBe(6);
    for (const chart of await charts.all()) {
      expect(await chart.getAttribute('role')).toBe('img');
      const title = await chart.locator('title').textContent();
      const description = await chart.locator('desc').textContent();
      expect(title).toMatch(/^(requests\/s|error rate|p95 latency)$/);
      expect(description).toMatch(/ per minute, \d\d:\d\d to \d\d:\d\d UTC: /);
    }
    expect(await page.locator('#fn-pingpong-rate desc').textContent()).toContain('highest 2 req/s');
    expect(await page.locator('#fn-pingpong-errors desc').textContent()).toContain('5xx highest 10% at');

    // Axis labels are local clock times, and the zone is stated.
    const ticks = await page.locator('#fn-pingpong-rate .x-axis text').allTextContents();
    expect(ticks.at(-1)).toBe('time (UTC)');
    expect(ticks.slice(0, -1).length).toBeGreaterThanOrEqual(3);
    for (const tick of ticks.slice(0, -1)) expect(tick).toMatch(/^\d\d:\d[05]$/);
    const text = await page.locator('body').innerText();
    expect(text).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:/);
    expect(text).toContain('times in UTC');

    // The table: matched routes only; req/s over active minutes, last seen in words.
    const rows = await page.locator('tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    expect(rows.map((cells) => [cells[0], cells[2], cells[3], cells[4], cells[5]])).toEqual([
      ['pingpong', '/pingpong', '960', '8', '2'],
      ['message-board', '/view', '12', '2', '0.1'],
    ]);
    expect(rows.map((cells) => cells[11])).toEqual([expect.stringMatching(/^(2|3) min ago$/), expect.stringMatching(/^(1|2) min ago$/)]);
    expect(await page.locator('a.toggle').textContent()).toBe('show all rows (2 unmatched or catch-all hidden)');

    // The policy holds: a script put into the page does not run, and the browser says why.
    const ran = await page.evaluate(`{
      const script = document.createElement('script');
      script.textContent = 'document.body.dataset.ran = "yes"';
      document.body.append(script);
      document.body.dataset.ran ?? 'no';
    }`);
    expect(ran).toBe('no');
    await expect.poll(() => consoleErrors.join('\n')).toMatch(/Content Security Policy/);
    await page.close();
  });

  it('shows the catch-all rows with ?all=1, and another time zone with ?tz=', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/stats?window=15m&all=1&tz=Asia/Kolkata`);
    const routes = await page.locator('tbody tr td:nth-child(3)').allTextContents();
    expect(routes).toEqual(['/pingpong', 'unmatched', '/view', '/*']);
    expect(await page.locator('section[data-function]').count()).toBe(3);
    expect(await page.locator('a.toggle').textContent()).toBe('hide unmatched and catch-all rows');
    expect(await page.locator('#fn-pingpong-rate .x-axis text').last().textContent()).toBe('time (Asia/Kolkata (GMT+5:30))');
    // The window links keep the page's choices.
    expect(await page.locator('nav a', { hasText: 'last hour' }).getAttribute('href')).toBe('?window=1h&all=1&tz=Asia%2FKolkata');
    await page.screenshot({ path: `${screenshotDir}stats-dashboard-all.png`, fullPage: true });
    await page.goto(`${server.url}/stats?window=1h`);
    expect(await pointsOf(page, 'pingpong', 'rate', 'req/s')).toBe(61);
    expect(await pointsOf(page, 'pingpong', 'p95', 'p95')).toBe(9);
    expect((await page.goto(`${server.url}/stats?tz=Mars/Olympus`))?.status()).toBe(400);
    await page.close();
  });

  it('links the message board and the dashboard both ways', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await Promise.all([page.waitForURL(`${server.url}/stats`), page.click('a[href="/stats"]')]);
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('a[href="/"]')]);
    expect(await page.locator('h1').textContent()).toBe('Message board');
    await page.close();
  });
});
