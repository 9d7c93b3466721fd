import { describe, expect, it } from 'vitest';
import { formatPretty } from './log-pretty.ts';
import { createLogger, logFormatter, redact } from './logger.ts';

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

describe('the pretty format', () => {
  const entry = (fields: Record<string, unknown>) => ({ time: '2026-01-02T12:00:01.234Z', level: 'info', msg: 'request', ...fields });

  it('puts a request on one line: time, level, method, path, status, duration, then the rest', () => {
    const line = formatPretty(entry({ function: 'pingpong', requestId: 'r1', method: 'GET', path: '/pingpong', route: '/pingpong', status: 200, ms: 3.2 }), false);
    expect(line).toBe('12:00:01.234 INFO  GET /pingpong 200 3.2 ms function=pingpong requestId=r1');
  });

  it('colours the level by severity only for a terminal', () => {
    expect(formatPretty({ ...entry({}), level: 'error', msg: 'boom' }, true)).toBe('\x1b[2m12:00:01.234\x1b[0m \x1b[31mERROR\x1b[0m boom');
    expect(formatPretty({ ...entry({}), level: 'warn', msg: 'careful' }, true)).toContain('\x1b[33mWARN \x1b[0m careful');
    expect(formatPretty({ ...entry({}), level: 'warn', msg: 'careful' }, false)).not.toContain('\x1b');
  });

  it('shows the redacted values the JSON line would carry, errors by their cause', async () => {
    const lines: string[] = [];
    const format = await logFormatter('pretty', false);
    const log = createLogger({ level: 'info', format, write: (line) => lines.push(line) });
    log.warn('database down', { url: 'postgres://u:pw@h/d', error: Object.assign(new Error('terminating connection'), { code: '57P01' }), functions: ['a', 'b'] });
    expect(lines).toEqual([expect.stringMatching(/^\d{2}:\d{2}:\d{2}\.\d{3} WARN  database down url=postgres:\/\/u:\*\*\*@h\/d error="57P01 terminating connection" functions=\["a","b"\]$/)]);
  });

  it('is not chosen for JSON', async () => {
    expect(await logFormatter('json')).toBeUndefined();
  });
});
