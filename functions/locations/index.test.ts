import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, postgresDatabase } from '../../test/support/app.ts';
import type { TestApp } from '../../test/support/app.ts';
import { createTestDatabase } from '../../test/support/postgres.ts';
import type { TestDatabase } from '../../test/support/postgres.ts';
import locations from './index.ts';

interface Location {
  name: string;
  timezone: string;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

interface ListPage {
  items: Location[];
  nextCursor: string | null;
}

interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
}

const missing = { status: 404, code: 'location_not_found' };
const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('locations on PostgreSQL', () => {
  let db: TestDatabase;
  let test: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    test = await buildTestApp([locations], postgresDatabase(db.url));
  });
  afterAll(async () => {
    await test?.close();
    await db?.drop();
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.headers = { 'Content-Type': 'application/json' };
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const response = await test.app.request(path, init);
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  }

  async function errorOf(method: string, path: string, body?: unknown): Promise<ErrorAnswer> {
    const answer = await call(method, path, body);
    const { error } = answer.body as { error: { code: string; message: string } };
    return { status: answer.status, code: error.code, message: error.message };
  }

  function create(body: unknown): Promise<{ status: number; body: unknown }> {
    return call('POST', '/api/locations', body);
  }

  async function messageOf(method: string, path: string, body?: unknown): Promise<string> {
    return (await errorOf(method, path, body)).message;
  }

  async function truncate(): Promise<void> {
    await db.query('truncate locations');
  }

  it('creates a location: 201 with the stored row', async () => {
    const created = await create({ name: 'hq', timezone: 'Europe/Helsinki', description: 'head office' });
    expect(created.status).toBe(201);
    const row = created.body as Location;
    expect(row).toEqual({
      name: 'hq',
      timezone: 'Europe/Helsinki',
      description: 'head office',
      createdAt: expect.stringMatching(isoTimestamp),
      updatedAt: expect.stringMatching(isoTimestamp),
    });
    expect(Math.abs(Date.parse(row.createdAt) - Date.now())).toBeLessThan(60_000);
    const stored = await db.query<{ timezone: string; description: string }>(
      'select timezone, description from locations where name = $1',
      ['hq'],
    );
    expect(stored.rows).toEqual([{ timezone: 'Europe/Helsinki', description: 'head office' }]);

    const bare = await create({ name: 'Tokyo_2', timezone: 'Asia/Tokyo' });
    expect(bare.status).toBe(201);
    expect((bare.body as Location).description).toBeNull();
  });

  it('answers 409 location_exists for a duplicate name and keeps the first row', async () => {
    await create({ name: 'dup', timezone: 'UTC' });
    expect(await errorOf('POST', '/api/locations', { name: 'dup', timezone: 'Asia/Tokyo' })).toEqual({
      status: 409,
      code: 'location_exists',
      message: 'a location named "dup" already exists',
    });
    expect(((await call('GET', '/api/locations/dup')).body as Location).timezone).toBe('UTC');
  });

  it('lets exactly one of many concurrent creates of one name win', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => call('POST', '/api/locations', { name: 'race', timezone: 'UTC' })),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, ...Array.from({ length: 9 }, () => 409)]);
    expect((await db.query('select 1 from locations where name = $1', ['race'])).rowCount).toBe(1);
  });

  it('validates the body, naming the field', async () => {
    const long = await errorOf('POST', '/api/locations', { name: 'x', timezone: 'UTC', description: 'a'.repeat(501) });
    expect(long).toMatchObject({ status: 400, code: 'invalid_input' });
    expect(long.message).toMatch(/^body\.description: /);
    expect((await create({ name: 'x500', timezone: 'UTC', description: 'a'.repeat(500) })).status).toBe(201);

    const badName = await errorOf('POST', '/api/locations', { name: 'bad name!', timezone: 'UTC' });
    expect(badName).toMatchObject({ status: 400, code: 'invalid_input' });
    expect(badName.message).toMatch(/^body\.name: /);
    const tooLong = await messageOf('POST', '/api/locations', { name: 'a'.repeat(65), timezone: 'UTC' });
    expect(tooLong).toMatch(/^body\.name: /);
    expect((await errorOf('POST', '/api/locations', { name: '', timezone: 'UTC' })).message).toMatch(/^body\.name: /);

    const zone = await errorOf('POST', '/api/locations', { name: 'mars', timezone: 'Mars/Olympus_Mons' });
    expect(zone).toMatchObject({ status: 400, code: 'invalid_input' });
    expect(zone.message).toMatch(/^body\.timezone: /);
    const lower = await messageOf('POST', '/api/locations', { name: 'lower', timezone: 'asia/tokyo' });
    expect(lower).toMatch(/^body\.timezone: /);

    const extra = await errorOf('POST', '/api/locations', { name: 'extra', timezone: 'UTC', admin: true });
    expect(extra).toMatchObject({ status: 400, code: 'invalid_input' });
    expect(extra.message).toContain('admin');
    expect((await errorOf('POST', '/api/locations', { timezone: 'UTC' })).message).toMatch(/^body\.name: /);
    expect((await errorOf('POST', '/api/locations', [])).status).toBe(400);

    expect(await errorOf('POST', '/api/locations', '{"name": "x",')).toEqual({
      status: 400,
      code: 'invalid_json',
      message: 'body is not valid JSON',
    });
    const headers = { 'Content-Type': 'text/plain' };
    const plain = await test.app.request('/api/locations', { method: 'POST', body: 'name=x', headers });
    expect(plain.status).toBe(415);
    const rejected = await db.query('select 1 from locations where name in ($1, $2, $3)', ['x', 'mars', 'extra']);
    expect(rejected.rowCount).toBe(0);
  });

  it('stores SQL and HTML metacharacters verbatim', async () => {
    const description = `'); drop table locations; -- <script>alert("x")</script> & \\ % _ $1 \u00e9\u{1F600}`;
    const created = await create({ name: 'meta', timezone: 'UTC', description });
    expect(created.status).toBe(201);
    expect((created.body as Location).description).toBe(description);
    expect(((await call('GET', '/api/locations/meta')).body as Location).description).toBe(description);
    const stored = await db.query<{ description: string }>('select description from locations where name = $1', [
      'meta',
    ]);
    expect(stored.rows[0]?.description).toBe(description);
  });

  it('gets one location, 404 when absent, 400 for a bad name in the path', async () => {
    expect((await call('GET', '/api/locations/hq')).body).toMatchObject({ name: 'hq', timezone: 'Europe/Helsinki' });
    expect(await errorOf('GET', '/api/locations/nowhere')).toEqual({
      status: 404,
      code: 'location_not_found',
      message: 'no location named "nowhere"',
    });
    const bad = await errorOf('GET', `/api/locations/${encodeURIComponent('bad name!')}`);
    expect(bad).toMatchObject({ status: 400, code: 'invalid_input' });
    expect(bad.message).toMatch(/^path\.name: /);
  });

  it('replaces with PUT, bumping updated_at and clearing an absent description', async () => {
    await create({ name: 'put-me', timezone: 'UTC', description: 'old' });
    const before = (await call('GET', '/api/locations/put-me')).body as Location;
    const replaced = await call('PUT', '/api/locations/put-me', { timezone: 'America/New_York' });
    expect(replaced.status).toBe(200);
    const row = replaced.body as Location;
    expect(row).toMatchObject({
      name: 'put-me',
      timezone: 'America/New_York',
      description: null,
      createdAt: before.createdAt,
    });
    expect(Date.parse(row.updatedAt)).toBeGreaterThan(Date.parse(before.updatedAt));
    expect((await call('PUT', '/api/locations/put-me', { timezone: 'UTC', description: 'new' })).body).toMatchObject({
      timezone: 'UTC',
      description: 'new',
    });

    expect(await messageOf('PUT', '/api/locations/put-me', { description: 'no zone' })).toMatch(/^body\.timezone: /);
    expect((await errorOf('PUT', '/api/locations/put-me', { timezone: 'UTC', name: 'rename' })).status).toBe(400);
    expect(await errorOf('PUT', '/api/locations/absent', { timezone: 'UTC' })).toMatchObject(missing);
    expect((await db.query('select 1 from locations where name = $1', ['absent'])).rowCount).toBe(0);
  });

  it('patches only the given fields', async () => {
    await create({ name: 'patch-me', timezone: 'UTC', description: 'keep' });
    const zone = await call('PATCH', '/api/locations/patch-me', { timezone: 'Asia/Tokyo' });
    expect(zone.status).toBe(200);
    expect(zone.body).toMatchObject({ timezone: 'Asia/Tokyo', description: 'keep' });
    expect((await call('PATCH', '/api/locations/patch-me', { description: 'changed' })).body).toMatchObject({
      timezone: 'Asia/Tokyo',
      description: 'changed',
    });
    const cleared = await call('PATCH', '/api/locations/patch-me', { description: null });
    expect(cleared.body).toMatchObject({ timezone: 'Asia/Tokyo', description: null });
    expect((await errorOf('PATCH', '/api/locations/patch-me', {})).status).toBe(400);
    const zoneMessage = await messageOf('PATCH', '/api/locations/patch-me', { timezone: 'Nowhere/City' });
    expect(zoneMessage).toMatch(/^body\.timezone: /);
    expect(await errorOf('PATCH', '/api/locations/absent', { description: 'x' })).toMatchObject(missing);
  });

  it('deletes with 204, then 404', async () => {
    await create({ name: 'delete-me', timezone: 'UTC' });
    const deleted = await test.app.request('/api/locations/delete-me', { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect((await call('GET', '/api/locations/delete-me')).status).toBe(404);
    expect(await errorOf('DELETE', '/api/locations/delete-me')).toMatchObject(missing);
  });

  describe('listing', () => {
    // Mixed case, digits, '-' and '_' so a locale-aware order would differ from byte order.
    const numbered = Array.from({ length: 23 }, (_, i) => `loc-${String(i).padStart(2, '0')}`);
    const names = [...numbered, 'A_b', 'a-b', 'a_b', 'Z9', '0zero'];
    const byteOrder = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

    beforeAll(async () => {
      await truncate();
      for (const name of names) {
        expect((await create({ name, timezone: 'UTC' })).status).toBe(201);
      }
    });

    it('defaults to 20 in name order', async () => {
      const page = (await call('GET', '/api/locations')).body as ListPage;
      expect(page.items.map((item) => item.name)).toEqual(byteOrder.slice(0, 20));
      expect(page.items[0]).toEqual({
        name: byteOrder[0],
        timezone: 'UTC',
        description: null,
        createdAt: expect.stringMatching(isoTimestamp),
        updatedAt: expect.stringMatching(isoTimestamp),
      });
      expect(page.nextCursor).toEqual(expect.any(String));
    });

    it('walks every row exactly once with cursors', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? '?limit=7' : `?limit=7&cursor=${encodeURIComponent(cursor)}`;
        const answer = await call('GET', `/api/locations${query}`);
        expect(answer.status).toBe(200);
        const page = answer.body as ListPage;
        seen.push(...page.items.map((item) => item.name));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 10);
      expect(seen).toEqual(byteOrder);
      expect(pages).toBe(Math.ceil(names.length / 7));
    });

    it('walks every row exactly once with offsets', async () => {
      const seen: string[] = [];
      for (let offset = 0; ; offset += 6) {
        const page = (await call('GET', `/api/locations?limit=6&offset=${offset}`)).body as ListPage;
        seen.push(...page.items.map((item) => item.name));
        if (page.nextCursor === null) break;
        expect(offset).toBeLessThan(names.length);
      }
      expect(seen).toEqual(byteOrder);
      const beyond = (await call('GET', '/api/locations?offset=1000')).body as ListPage;
      expect(beyond).toEqual({ items: [], nextCursor: null });
    });

    it('ends with nextCursor null when the last page is exactly full', async () => {
      const first = (await call('GET', `/api/locations?limit=${names.length - 1}`)).body as ListPage;
      const last = (await call('GET', `/api/locations?limit=1&cursor=${first.nextCursor}`)).body as ListPage;
      expect(last.items.map((item) => item.name)).toEqual([byteOrder.at(-1)]);
      expect(last.nextCursor).toBeNull();
      expect(((await call('GET', '/api/locations?limit=100')).body as ListPage).items).toHaveLength(names.length);
    });

    it('rejects bad paging parameters', async () => {
      for (const query of ['limit=0', 'limit=101', 'limit=abc', 'limit=2.5', 'offset=-1', 'limt=5']) {
        const answer = await errorOf('GET', `/api/locations?${query}`);
        expect(answer).toMatchObject({ status: 400, code: 'invalid_input' });
        expect(answer.message).toMatch(/^query[.:]/);
      }
      const cursor = ((await call('GET', '/api/locations?limit=1')).body as ListPage).nextCursor;
      const both = await errorOf('GET', `/api/locations?cursor=${cursor}&offset=1`);
      expect(both).toMatchObject({ status: 400, code: 'invalid_input' });
      for (const bad of ['garbage', Buffer.from('{"after":"bad name!"}').toString('base64url'), '']) {
        expect(await errorOf('GET', `/api/locations?cursor=${encodeURIComponent(bad)}`)).toMatchObject({
          status: 400,
          code: 'invalid_cursor',
        });
      }
    });
  });
});
