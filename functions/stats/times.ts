/**
 * Times as people read them. The page is rendered on the server, which cannot know the reader's
 * time zone without a script, so times are shown in one named zone (the server's, or `?tz=`) and
 * the page says which.
 */
export interface Clock {
  timeZone: string;
  /** "UTC" or "Europe/Berlin (GMT+1)". */
  zoneLabel: string;
  /** "14:05" */
  minute(at: number): string;
  /** "14:05:09" */
  second(at: number): string;
  /** "2026-01-31 14:05:09" */
  full(at: number): string;
  /** Minutes since local midnight, for placing axis ticks on round local times. */
  minuteOfDay(at: number): number;
}

export const serverTimeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function createClock(timeZone: string = serverTimeZone): Clock {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const offset = new Intl.DateTimeFormat('en', { timeZone, timeZoneName: 'shortOffset' });
  // Every chart on a page asks for the same minutes (1441 of them for 24 h): formatted once.
  const cache = new Map<number, { date: string; hour: string; minute: string; second: string }>();
  const fields = (at: number) => {
    const cached = cache.get(at);
    if (cached) return cached;
    const found: Record<string, string> = {};
    for (const part of parts.formatToParts(at)) found[part.type] = part.value;
    const result = {
      date: `${found['year']}-${found['month']}-${found['day']}`,
      hour: found['hour'] ?? '00',
      minute: found['minute'] ?? '00',
      second: found['second'] ?? '00',
    };
    cache.set(at, result);
    return result;
  };
  const isUtc = timeZone === 'UTC' || timeZone === 'Etc/UTC';
  const gmt = offset.formatToParts(Date.now()).find((part) => part.type === 'timeZoneName')?.value ?? '';
  return {
    timeZone,
    zoneLabel: isUtc ? 'UTC' : `${timeZone} (${gmt})`,
    minute: (at) => {
      const f = fields(at);
      return `${f.hour}:${f.minute}`;
    },
    second: (at) => {
      const f = fields(at);
      return `${f.hour}:${f.minute}:${f.second}`;
    },
    full: (at) => {
      const f = fields(at);
      return `${f.date} ${f.hour}:${f.minute}:${f.second}`;
    },
    minuteOfDay: (at) => {
      const f = fields(at);
      return Number(f.hour) * 60 + Number(f.minute);
    },
  };
}

/** "just now", "40 s ago", "2 min ago", "3 h ago", "2 days ago". */
export function timeAgo(at: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 10) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}
