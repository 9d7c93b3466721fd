import { describe, expect, it } from 'vitest';
import { niceCeiling } from './chart.ts';
import { createClock, isTimeZone, timeAgo } from './times.ts';

describe('human times', () => {
  const now = Date.UTC(2026, 0, 31, 14, 5, 9);

  it('says how long ago in the largest whole unit', () => {
    expect([3, 40, 150, 3599, 7200, 3 * 86_400].map((seconds) => timeAgo(now - seconds * 1000, now))).toEqual([
      'just now',
      '40 s ago',
      '2 min ago',
      '59 min ago',
      '2 h ago',
      '3 days ago',
    ]);
  });

  it('reads clock times in the named zone and states the zone', () => {
    const kolkata = createClock('Asia/Kolkata');
    expect([kolkata.minute(now), kolkata.second(now), kolkata.full(now), kolkata.minuteOfDay(now)]).toEqual([
      '19:35',
      '19:35:09',
      '2026-01-31 19:35:09',
      19 * 60 + 35,
    ]);
    expect(kolkata.zoneLabel).toBe('Asia/Kolkata (GMT+5:30)');
    expect(createClock('UTC').minute(now)).toBe('14:05');
    expect(createClock('UTC').zoneLabel).toBe('UTC');
    expect([isTimeZone('Europe/Berlin'), isTimeZone('Mars/Olympus')]).toEqual([true, false]);
  });

  it('rounds an axis maximum up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect([0, 0.07, 1, 2.06, 3, 7, 12].map(niceCeiling)).toEqual([1, 0.1, 1, 2.5, 5, 10, 20]);
  });
});
