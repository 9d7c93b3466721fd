/**
 * IANA time-zone checks and wall-clock arithmetic on top of Intl, shared by the `time` and
 * `locations` functions so both accept exactly the same zone names.
 */

// Intl also accepts case variants ('asia/tokyo') and, on newer runtimes, bare offsets ('+01:00');
// neither is an IANA name, and storing them would make equal zones compare unequal.
const ianaShape = /^[A-Z][A-Za-z0-9_+-]*(?:\/[A-Z][A-Za-z0-9_+-]*)*$/;
const maxZoneLength = 64;

/** True for names the runtime's tz database knows, aliases included (`Asia/Kolkata`, `UTC`). */
export function isTimeZone(name: string): boolean {
  if (name.length > maxZoneLength || !ianaShape.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export interface ZonedTime {
  timezone: string;
  /** Local wall time with its offset, e.g. `2026-11-23T11:15:00.000+01:00`. */
  local: string;
  offset: string;
  /** Intl's short name in en-US: `CET`-style where ICU has one, else `GMT+1`. */
  zoneName: string;
}

const wallClockCache = new Map<string, Intl.DateTimeFormat>();

function wallClock(timeZone: string): Intl.DateTimeFormat {
  let format = wallClockCache.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      timeZoneName: 'short',
    });
    // Bounded by the number of valid zones, since only validated names reach here.
    wallClockCache.set(timeZone, format);
  }
  return format;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const absolute = Math.abs(minutes);
  return `${sign}${pad(Math.floor(absolute / 60))}:${pad(absolute % 60)}`;
}

/** `instant` as seen on a wall clock in `timeZone` (which must pass {@link isTimeZone}). */
export function zonedTime(instant: Date, timeZone: string): ZonedTime {
  const parts: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {};
  for (const part of wallClock(timeZone).formatToParts(instant)) parts[part.type] = part.value;
  const field = (type: Intl.DateTimeFormatPartTypes): number => Number(parts[type]);
  const year = field('year');
  const wallMs = Date.UTC(year, field('month') - 1, field('day'), field('hour'), field('minute'), field('second'));
  const utcSecondMs = instant.getTime() - instant.getUTCMilliseconds();
  // Whole minutes: historic LMT offsets with seconds cannot be written as ±HH:MM anyway.
  const offsetMinutes = Math.round((wallMs - utcSecondMs) / 60_000);
  const date = `${pad(year, 4)}-${pad(field('month'))}-${pad(field('day'))}`;
  const seconds = `${pad(field('second'))}.${pad(instant.getUTCMilliseconds(), 3)}`;
  const time = `${pad(field('hour'))}:${pad(field('minute'))}:${seconds}`;
  const offset = formatOffset(offsetMinutes);
  return { timezone: timeZone, local: `${date}T${time}${offset}`, offset, zoneName: parts.timeZoneName ?? offset };
}
