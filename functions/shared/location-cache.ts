/**
 * How `time` caches stored locations and `locations` makes them stale: one tag per location name,
 * invalidated after every committed create, change and delete, so the next `/api/time?location=`
 * on any instance reads the new row.
 */

/** What a stored location's name may be (the locations API refuses anything else). */
export const locationNamePattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Long enough to spare the database most reads, short enough to bound a missed invalidation. */
export const locationCacheTtlMs = 60_000;

export function locationTag(name: string): string {
  return `location:${name}`;
}
