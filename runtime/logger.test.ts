import { spawn } from 'node:child_process';
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

describe('the access log fast path', () => {
  const logged = (fields: Record<string, unknown>) => {
    const lines: string[] = [];
    createLogger({ level: 'info', base: { service: 'svc' }, write: (line) => lines.push(line) })
      .child({ function: 'pingpong' })
      .info('request', fields);
    return lines[0] ?? '';
  };

  it('keeps the field order of the line: time, level, msg, base, child, then the call', () => {
    const line = logged({ requestId: 'r1', method: 'GET', path: '/pingpong', status: 200, ms: 1.25 });
    expect(line).toMatch(
      /^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"info","msg":"request","service":"svc","function":"pingpong","requestId":"r1","method":"GET","path":"\/pingpong","status":200,"ms":1.25\}$/,
    );
    const time = Date.parse((JSON.parse(line) as { time: string }).time);
    expect(Math.abs(time - Date.now())).toBeLessThan(1000);
  });

  it('still redacts a client-sent value that looks like a secret', () => {
    const line = logged({ requestId: 'password=hunter2', path: '/x/postgres://u:pw@h/d', note: 'a "quoted" \\ line\nbreak' });
    expect(JSON.parse(line)).toMatchObject({ requestId: 'password=***', path: '/x/postgres://u:***@h/d', note: 'a "quoted" \\ line\nbreak' });
    expect(line).not.toContain('hunter2');
  });

  it('writes exactly what JSON.stringify would, whether a value is written as it is or needs escaping', () => {
    const plain = { requestId: 'r1', method: 'GET', ok: true, zero: -0, big: 1e21, ms: 0.1 + 0.2 };
    expect(logged(plain).endsWith(`,"function":"pingpong",${JSON.stringify(plain).slice(1, -1)}}`)).toBe(true);
    const escaped = { quote: 'say "hi"', slash: 'a\\b', tab: 'a\tb', emoji: '😀', lone: '\ud800x', 'we"ird': 'key', del: '\u007f\u2028' };
    expect(logged(escaped).endsWith(`,"function":"pingpong",${JSON.stringify(escaped).slice(1, -1)}}`)).toBe(true);
    expect(JSON.parse(logged(escaped))).toMatchObject(escaped);
  });

  it('writes what a child adds on each of its lines, read when it first logs', () => {
    const lines: string[] = [];
    const child = createLogger({ level: 'info', write: (line) => lines.push(line) }).child({ requestId: 'r2' }).child({ step: 2 });
    child.info('one');
    child.warn('two', { n: Number.NaN, skipped: undefined });
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      { msg: 'one', requestId: 'r2', step: 2 },
      { msg: 'two', level: 'warn', requestId: 'r2', step: 2, n: null },
    ]);
    expect(lines[1]).not.toContain('skipped');
  });
});

describe('stdout', () => {
  const projectRoot = new URL('../', import.meta.url).pathname;
  const run = (code: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', reject);
      child.once('exit', () => resolve(output));
    });

  it('gets every line, in order, when the process exits after flushLogs', async () => {
    const output = await run(
      "import { createLogger, flushLogs } from './runtime/logger.ts';" +
        "const log = createLogger({ level: 'info' });" +
        'for (let i = 0; i < 5000; i++) { log.info("line", { i }); if (i % 100 === 0) await new Promise((r) => setImmediate(r)); }' +
        'await flushLogs(); process.exit(0);',
    );
    const numbers = output.trim().split('\n').map((line) => (JSON.parse(line) as { i: number }).i);
    expect(numbers).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('gets the lines of a process that exits straight after logging them', async () => {
    const output = await run(
      "import { createLogger } from './runtime/logger.ts';" +
        "const log = createLogger({ level: 'info' }); log.info('first'); log.error('last words'); process.exit(3);",
    );
    expect(output.trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['first', 'last words']);
  });
});
