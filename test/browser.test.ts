import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnServer } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';

describe('the message board in a real browser', () => {
  let database: TestDatabase;
  let server: SpawnedProcess & { url: string };
  let browser: Browser;

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await spawnServer({ DATABASE_URL: database.url });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await database?.drop();
  });

  it('saves a message typed into the form and shows it on /view', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.fill('textarea[name=data]', 'Hello from Chromium');
    await page.selectOption('select[name=template]', 'space');
    await Promise.all([page.waitForURL(/\/view\?template=space$/), page.click('button[type=submit]')]);
    await expect.poll(() => page.locator('.message p').first().textContent()).toBe('Hello from Chromium');
    expect(await page.locator('body').getAttribute('class')).toBe('theme-space');
    await page.close();
  });

  it('shows a message with markup as text and never runs it', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const message = '<script>window.pwned = true; alert(1)</script><img src=x onerror="window.pwned = true">';
    await page.goto(`${server.url}/`);
    await page.fill('textarea[name=data]', message);
    await Promise.all([page.waitForURL(/\/view\?template=default$/), page.click('button[type=submit]')]);
    expect(await page.locator('.message p').first().textContent()).toBe(message);
    expect(await page.locator('.message script, .message img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { pwned?: boolean }).pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    await page.close();
  });
});
