import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { expect } from 'vitest';

/** Debian's, unless CHROMIUM_PATH names another Chromium or Chrome (macOS, other distributions). */
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** An error vitest prints as its message alone: the stack of a missing browser says nothing more. */
function browserMissing(message: string): Error {
  const error = new Error(message);
  error.stack = `Error: ${message}`;
  return error;
}

/** Chromium, headless; playwright-core never downloads a browser of its own. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw browserMissing(
      `the browser tests need Chromium at ${chromiumPath}: install it (Debian/Ubuntu: sudo apt-get install chromium; bash .ci/run does) ` +
        'or set CHROMIUM_PATH to a Chromium or Chrome binary',
    );
  }
  try {
    return await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split('\n').find((line) => line.trim() !== '') ?? '';
    throw browserMissing(`Chromium at ${chromiumPath} did not start (${first.trim()}): reinstall it, or set CHROMIUM_PATH to one that runs`);
  }
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
