import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { locations } from '../../db/schema.ts';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { ApiError } from '../../runtime/errors.ts';
import { parseInput } from '../../runtime/validate.ts';
import * as z from '../../runtime/zod.ts';
import { locationCacheTtlMs, locationNamePattern, locationTag } from '../shared/location-cache.ts';
import { isTimeZone, zonedTime } from '../shared/time-zone.ts';

// Strict, so a typo such as `?timezone=` is a 400 rather than a silent UTC answer.
const timeQuery = z.strictObject({
  tz: z.optional(z.string()),
  location: z.optional(z.string()),
});

function quoted(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/**
 * Through the shared cache, absent names included (null), so a flood of lookups of one location
 * reaches the database once a minute; `locations` invalidates the name on every change. A name
 * the locations API would refuse cannot be stored: no lookup, no cache entry.
 */
async function locationTimeZone(c: Context<AppEnv>, name: string): Promise<string> {
  const { db, cache } = c.var;
  const timezone = !locationNamePattern.test(name)
    ? null
    : await cache.readThrough(`time:location:${name}`, { ttlMs: locationCacheTtlMs, tag: locationTag(name) }, async () => {
        const [row] = await db.select({ timezone: locations.timezone }).from(locations).where(eq(locations.name, name));
        return row?.timezone ?? null;
      });
  if (timezone === null) throw new ApiError(404, 'location_not_found', `no location named ${quoted(name)}`);
  return timezone;
}

export default defineFunction({
  name: 'time',
  description: 'GET /api/time answers the current time in UTC, or in a zone (?tz=) or stored location (?location=).',
  docs: [
    {
      route: 'GET /api/time[?tz=Area/City | ?location=name]',
      answer: '`{utc, unixMs}`, plus `timezone, local, offset, zoneName` for a zone or stored location; unknown zone 400, unknown location 404',
    },
  ],
  app: new Hono<AppEnv>().get('/api/time', async (c) => {
    const query = parseInput(timeQuery, c.req.query(), 'query');
    if (query.tz !== undefined && query.location !== undefined) {
      throw new ApiError(400, 'invalid_input', 'give either query.tz or query.location, not both');
    }
    if (query.tz !== undefined && !isTimeZone(query.tz)) {
      throw new ApiError(400, 'unknown_timezone', `unknown time zone ${quoted(query.tz)}`);
    }
    const timeZone = query.location === undefined ? query.tz : await locationTimeZone(c, query.location);
    // Read the clock after the lookup so the answer is as fresh as possible.
    const now = new Date();
    const utc = { utc: now.toISOString(), unixMs: now.getTime() };
    c.header('Cache-Control', 'no-store');
    if (timeZone === undefined) return c.json(utc);
    const zoned = zonedTime(now, timeZone);
    return c.json(query.location === undefined ? { ...utc, ...zoned } : { ...utc, location: query.location, ...zoned });
  }),
});
