import { describe, expect, it } from 'vitest';
import { isTimeZone, zonedTime } from './time-zone.ts';

describe('isTimeZone', () => {
  it('accepts IANA names, aliases included', () => {
    for (const zone of ['UTC', 'Europe/Helsinki', 'Asia/Kolkata', 'America/Argentina/Buenos_Aires', 'US/Eastern']) {
      expect(isTimeZone(zone), zone).toBe(true);
    }
  });

  it('rejects unknown names, case variants, offsets and path tricks', () => {
    const zones = ['', 'Mars/Olympus_Mons', 'asia/tokyo', 'utc', '+01:00', 'Z', 'Europe/../Helsinki', '/UTC', 'UTC/'];
    for (const zone of zones) {
      expect(isTimeZone(zone), zone).toBe(false);
    }
    expect(isTimeZone('Europe//Helsinki')).toBe(false);
    expect(isTimeZone(`Europe/${'A'.repeat(100)}`)).toBe(false);
  });
});

describe('zonedTime', () => {
  it('writes the wall time with its offset, naming the same instant', () => {
    const instant = new Date('2026-03-29T00:59:59.999Z');
    const before = zonedTime(instant, 'Europe/Helsinki');
    expect(before).toMatchObject({
      timezone: 'Europe/Helsinki',
      local: '2026-03-29T02:59:59.999+02:00',
      offset: '+02:00',
    });
    // One millisecond later Helsinki springs forward from 03:00 to 04:00.
    const after = zonedTime(new Date(instant.getTime() + 1), 'Europe/Helsinki');
    expect(after).toMatchObject({ local: '2026-03-29T04:00:00.000+03:00', offset: '+03:00' });
    expect(new Date(after.local).getTime()).toBe(instant.getTime() + 1);
  });

  it('handles quarter-hour, negative and date-line offsets', () => {
    const instant = new Date('2026-12-31T23:30:00.000Z');
    expect(zonedTime(instant, 'Asia/Kathmandu').local).toBe('2027-01-01T05:15:00.000+05:45');
    expect(zonedTime(instant, 'Etc/GMT+1').local).toBe('2026-12-31T22:30:00.000-01:00');
    expect(zonedTime(instant, 'Pacific/Kiritimati').local).toBe('2027-01-01T13:30:00.000+14:00');
    expect(zonedTime(instant, 'Pacific/Pago_Pago').local).toBe('2026-12-31T12:30:00.000-11:00');
    expect(zonedTime(instant, 'UTC')).toMatchObject({ offset: '+00:00', zoneName: 'UTC' });
  });
});
