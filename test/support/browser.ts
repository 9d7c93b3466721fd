import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { expect } from 'vitest';

const chromiumPath = '/usr/bin/chromium';

/** Debian's Chromium, headless; playwright-core never downloads a browser of its own. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`the browser tests need Debian's Chromium at ${chromiumPath}: apt-get install chromium (bash .ci/run does)`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Types a message into the board's form at `baseUrl`, submits it, and expects it on /view. */
export async function saveThroughTheForm(browser: Browser, baseUrl: string, text: string): Promise<void> {
  const page = await browser.newPage();
  await page.goto(`${baseUrl}/`);
  await page.fill('textarea[name=data]', text);
  await page.selectOption('select[name=template]', 'space');
  await Promise.all([page.waitForURL(`${baseUrl}/view?template=space`), page.click('button[type=submit]')]);
  await expect.poll(() => page.locator('.message p').first().textContent()).toBe(text);
  expect(await page.locator('body').getAttribute('class')).toBe('theme-space');
  await page.close();
}

/** Saves a message full of markup through the form and expects it shown as text, never run. */
export async function showMarkupAsText(browser: Browser, baseUrl: string): Promise<void> {
  const page = await browser.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  const message = '<script>window.pwned = true; alert(1)</script><img src=x onerror="window.pwned = true">';
  await page.goto(`${baseUrl}/`);
  await page.fill('textarea[name=data]', message);
  await Promise.all([page.waitForURL(`${baseUrl}/view?template=default`), page.click('button[type=submit]')]);
  await expect.poll(() => page.locator('.message p').first().textContent()).toBe(message);
  expect(await page.locator('.message script, .message img').count()).toBe(0);
  expect(await page.evaluate(() => (globalThis as { pwned?: boolean }).pwned)).toBeUndefined();
  expect(dialogs).toEqual([]);
  await page.close();
}
