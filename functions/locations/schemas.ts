import { z } from 'zod';
import { isTimeZone } from '../shared/time-zone.ts';

export const locationName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"');

const timezone = z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Helsinki');
const description = z.string().max(500);

export const namePath = z.strictObject({ name: locationName });

export const createBody = z.strictObject({
  name: locationName,
  timezone,
  description: description.optional(),
});

/** PUT replaces every writable field, so an absent description clears it. */
export const replaceBody = z.strictObject({
  timezone,
  description: description.nullable().optional(),
});

export const patchBody = z
  .strictObject({
    timezone: timezone.optional(),
    description: description.nullable().optional(),
  })
  .refine(
    (patch) => patch.timezone !== undefined || patch.description !== undefined,
    'give timezone and/or description',
  );

export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().optional(),
  offset: z.coerce.number().int().min(0).max(2_147_483_647).optional(),
});

export type CreateLocation = z.infer<typeof createBody>;
export type ReplaceLocation = z.infer<typeof replaceBody>;
export type PatchLocation = z.infer<typeof patchBody>;
