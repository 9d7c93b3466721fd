import { describe, expect, it } from 'vitest';
import { createLogger, redact } from './logger.ts';

describe('redact', () => {
  it('hides the password of a connection string and keeps the rest', () => {
    expect(redact('connect postgres://app:s3cr%40t@db:5432/x failed')).toBe('connect postgres://app:***@db:5432/x failed');
  });

  it('hides password= fragments', () => {
    expect(redact('host=db password=hunter2 user=app')).toBe('host=db password=*** user=app');
  });
});

describe('createLogger', () => {
  it('writes one JSON line with base fields, child fields and redacted values, above the level only', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', base: { service: 'pingpong' }, write: (line) => lines.push(line) });
    log.debug('hidden');
    log.child({ requestId: 'r1' }).warn('db', { url: 'postgres://u:pw@h/d', error: new Error('pw postgres://u:pw@h/d') });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'warn', msg: 'db', service: 'pingpong', requestId: 'r1', url: 'postgres://u:***@h/d' });
    expect(entry['error']).toMatchObject({ message: 'pw postgres://u:***@h/d' });
    expect(lines[0]).not.toContain(':pw@');
  });
});
