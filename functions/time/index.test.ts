import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTestApp, postgresDatabase } from '../../test/support/app.ts';
import type { TestApp } from '../../test/support/app.ts';
import { createTestDatabase } from '../../test/support/postgres.ts';
import type { TestDatabase } from '../../test/support/postgres.ts';
import time from './index.ts';

interface TimeAnswer {
  utc: string;
  unixMs: number;
  timezone?: string;
  local?: string;
  offset?: string;
  zoneName?: string;
  location?: string;
}

describe('time on PostgreSQL', () => {
  let db: TestDatabase;
  let test: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    test = await buildTestApp([time], postgresDatabase(db.url));
    await db.query(
      `insert into locations (name, timezone, description)
       values ('tokyo-office', 'Asia/Tokyo', null), ('hq', 'Europe/Helsinki', 'head office')`,
    );
  });
  afterAll(async () => {
    await test?.close();
    await db?.drop();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function get(query: string): Promise<{ status: number; body: unknown }> {
    const response = await test.app.request(`/api/time${query}`);
    return { status: response.status, body: await response.json() };
  }

  async function getTime(query: string): Promise<TimeAnswer> {
    const { status, body } = await get(query);
    expect(status).toBe(200);
    return body as TimeAnswer;
  }

  it('answers the current UTC time by default', async () => {
    const before = Date.now();
    const answer = await getTime('');
    const after = Date.now();
    expect(Object.keys(answer).sort()).toEqual(['unixMs', 'utc']);
    expect(answer.unixMs).toBeGreaterThanOrEqual(before);
    expect(answer.unixMs).toBeLessThanOrEqual(after);
    expect(answer.utc).toBe(new Date(answer.unixMs).toISOString());
  });

  it('answers Tokyo wall time at +09:00, naming the same instant', async () => {
    const answer = await getTime('?tz=Asia/Tokyo');
    expect(answer.timezone).toBe('Asia/Tokyo');
    expect(answer.offset).toBe('+09:00');
    expect(answer.zoneName).toMatch(/^(JST|GMT\+9)$/);
    expect(answer.local).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+09:00$/);
    const utcHour = new Date(answer.unixMs).getUTCHours();
    expect(Number(answer.local?.slice(11, 13))).toBe((utcHour + 9) % 24);
    expect(new Date(answer.local ?? '').getTime()).toBe(answer.unixMs);
  });

  it('follows daylight saving time: Helsinki is +02:00 in winter and +03:00 in summer', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-15T10:00:00.123Z'));
    const winter = await getTime('?tz=Europe/Helsinki');
    expect(winter).toEqual({
      utc: '2026-01-15T10:00:00.123Z',
      unixMs: Date.UTC(2026, 0, 15, 10, 0, 0, 123),
      timezone: 'Europe/Helsinki',
      local: '2026-01-15T12:00:00.123+02:00',
      offset: '+02:00',
      zoneName: expect.stringMatching(/^(EET|GMT\+2)$/),
    });
    vi.setSystemTime(new Date('2026-07-15T22:30:00.000Z'));
    const summer = await getTime('?tz=Europe/Helsinki');
    expect(summer.local).toBe('2026-07-16T01:30:00.000+03:00');
    expect(summer.offset).toBe('+03:00');
  });

  it('handles half-hour and negative offsets', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-23T00:15:00.000Z'));
    expect((await getTime('?tz=Asia/Kolkata')).local).toBe('2026-11-23T05:45:00.000+05:30');
    expect((await getTime('?tz=America/St_Johns')).local).toBe('2026-11-22T20:45:00.000-03:30');
    expect((await getTime('?tz=UTC')).local).toBe('2026-11-23T00:15:00.000+00:00');
  });

  it("answers in a stored location's time zone", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-23T10:15:00.000Z'));
    expect(await getTime('?location=hq')).toEqual({
      utc: '2026-11-23T10:15:00.000Z',
      unixMs: Date.UTC(2026, 10, 23, 10, 15),
      location: 'hq',
      timezone: 'Europe/Helsinki',
      local: '2026-11-23T12:15:00.000+02:00',
      offset: '+02:00',
      zoneName: expect.stringMatching(/^(EET|GMT\+2)$/),
    });
    const tokyo = await getTime('?location=tokyo-office');
    expect(tokyo.local).toBe('2026-11-23T19:15:00.000+09:00');
  });

  it('rejects unknown and non-IANA zones with 400 unknown_timezone naming the value', async () => {
    expect(await get('?tz=Mars/Olympus_Mons')).toEqual({
      status: 400,
      body: { error: { code: 'unknown_timezone', message: 'unknown time zone "Mars/Olympus_Mons"' } },
    });
    for (const zone of ['asia/tokyo', '+01:00', '', 'Europe/../Helsinki']) {
      const { status, body } = await get(`?tz=${encodeURIComponent(zone)}`);
      expect(status).toBe(400);
      const message = `unknown time zone ${JSON.stringify(zone)}`;
      expect(body).toEqual({ error: { code: 'unknown_timezone', message } });
    }
  });

  it('answers 404 location_not_found for an unknown location', async () => {
    expect(await get('?location=atlantis')).toEqual({
      status: 404,
      body: { error: { code: 'location_not_found', message: 'no location named "atlantis"' } },
    });
  });

  it('rejects tz together with location, and unknown parameters', async () => {
    const both = await get('?tz=UTC&location=hq');
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ error: { code: 'invalid_input' } });
    const typo = await get('?timezone=Asia/Tokyo');
    expect(typo.status).toBe(400);
    expect(typo.body).toMatchObject({ error: { code: 'invalid_input' } });
  });
});
