import * as z from '../../runtime/zod.ts';
import { locationNamePattern } from '../shared/location-cache.ts';
import { isTimeZone } from '../shared/time-zone.ts';

export const locationName = z.string().check(z.regex(locationNamePattern, 'must be 1-64 letters, digits, "-" or "_"'));

const timezone = z.string().check(z.refine(isTimeZone, 'must be an IANA time zone such as Europe/Helsinki'));
const description = z.string().check(z.maxLength(500));

export const namePath = z.strictObject({ name: locationName });

export const createBody = z.strictObject({
  name: locationName,
  timezone,
  description: z.optional(description),
});

/** PUT replaces every writable field, so an absent description clears it. */
export const replaceBody = z.strictObject({
  timezone,
  description: z.optional(z.nullable(description)),
});

export const patchBody = z
  .strictObject({
    timezone: z.optional(timezone),
    description: z.optional(z.nullable(description)),
  })
  .check(
    z.refine(
      (patch) => patch.timezone !== undefined || patch.description !== undefined,
      'give timezone and/or description',
    ),
  );

export const listQuery = z.strictObject({
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 20),
  cursor: z.optional(z.string()),
  offset: z.optional(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(2_147_483_647))),
});

export type CreateLocation = z.infer<typeof createBody>;
export type ReplaceLocation = z.infer<typeof replaceBody>;
export type PatchLocation = z.infer<typeof patchBody>;
