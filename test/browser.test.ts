import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { launchChromium, saveThroughTheForm, showMarkupAsText } from './support/browser.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnServer, stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';

describe('the message board in a real browser, under npm start', () => {
  let database: TestDatabase;
  let server: SpawnedProcess & { url: string };
  let browser: Browser;

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await spawnServer({ DATABASE_URL: database.url });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stopProcess(server);
    await database?.drop();
  });

  it('saves a message typed into the form and shows it on /view', async () => {
    await saveThroughTheForm(browser, server.url, 'Hello from Chromium');
  });

  it('shows a message with markup as text and never runs it', async () => {
    await showMarkupAsText(browser, server.url);
  });
});
