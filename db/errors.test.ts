import { describe, expect, it } from 'vitest';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { DatabaseUnavailableError, describeCause, isDatabaseUnavailable, isSchemaBehind } from './errors.ts';

describe('isDatabaseUnavailable', () => {
  it('recognises network failures and connection SQLSTATEs, also when wrapped', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isDatabaseUnavailable(refused)).toBe(true);
    expect(isDatabaseUnavailable(new Error('Failed query: select 1', { cause: refused }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(new AggregateError([refused], 'all failed'))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('role "knfn_app" does not exist'), { code: '28000' }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('password authentication failed'), { code: '28P01' }))).toBe(true);
  });

  it('leaves bugs and rejected statements alone', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('syntax error'), { code: '42601' }))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });

  it('tells a schema not yet migrated from an outage and from a bad statement', () => {
    const missingTable = Object.assign(new Error('relation "ping_count" does not exist'), { code: '42P01' });
    expect(isSchemaBehind(new DrizzleQueryError('select * from ping_count', [], missingTable))).toBe(true);
    expect(isSchemaBehind(Object.assign(new Error('column "x" does not exist'), { code: '42703' }))).toBe(true);
    expect(isSchemaBehind(Object.assign(new Error('syntax error'), { code: '42601' }))).toBe(false);
    expect(isSchemaBehind(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isDatabaseUnavailable(missingTable)).toBe(false);
  });

  it('counts the runtime\'s own deadline as an outage', () => {
    expect(isDatabaseUnavailable(new DatabaseUnavailableError('the database did not answer within 3000 ms'))).toBe(true);
  });
});

describe('describeCause', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });

  it('gives a failed statement\'s SQLSTATE and message, never its SQL or parameters', () => {
    const wrapped = new DrizzleQueryError('insert into messages (data) values ($1)', ['MARKER-secret text'], pgError('28000', 'role "x" does not exist'));
    expect(wrapped.message).toContain('MARKER');
    expect(describeCause(wrapped)).toBe('28000 role "x" does not exist');
  });

  it('drops the offending value a data exception quotes', () => {
    const error = pgError('22P02', 'invalid input syntax for type integer: "MARKER"');
    expect(describeCause(new DrizzleQueryError('select $1::int', ['MARKER'], error))).toBe('22P02 invalid input syntax for type integer: "…"');
  });

  it('names the errno and address of a socket error, also inside an AggregateError or an error event', () => {
    const refused = (address: string) =>
      Object.assign(new Error(`connect ECONNREFUSED ${address}:5499`), { code: 'ECONNREFUSED', address, port: 5499 });
    expect(describeCause(refused('127.0.0.1'))).toBe('ECONNREFUSED 127.0.0.1:5499');
    const dualStack = Object.assign(new AggregateError([refused('::1'), refused('127.0.0.1')], ''), { code: 'ECONNREFUSED' });
    expect(describeCause(dualStack)).toBe('ECONNREFUSED ::1:5499; ECONNREFUSED 127.0.0.1:5499');
    expect(describeCause({ type: 'error', message: '', error: refused('127.0.0.1') })).toBe('ECONNREFUSED 127.0.0.1:5499');
    expect(describeCause({ type: 'error' })).not.toContain('[object Object]');
  });

  it('keeps what a wrapper adds to its cause', () => {
    const timeout = new Error('Connection terminated due to connection timeout', { cause: new Error('Connection terminated') });
    expect(describeCause(timeout)).toBe('Connection terminated due to connection timeout');
    expect(describeCause(new Error('pool failed', { cause: pgError('57P03', 'the database system is starting up') }))).toBe(
      'pool failed: 57P03 the database system is starting up',
    );
  });
});
