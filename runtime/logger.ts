import { describeCause } from '../db/errors.ts';
import type { LogLevel } from './config.ts';

const severity: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** What one log call produces, after redaction: what a formatter turns into a line. */
export type LogEntry = { time: string; level: string; msg: string } & LogFields;
export type LogFormatter = (entry: LogEntry) => string;

export interface LoggerOptions {
  level: LogLevel;
  base?: LogFields;
  write?: (line: string) => void;
  /** Undefined: one JSON object per line. */
  format?: LogFormatter | undefined;
}

/**
 * The formatter for LOG_FORMAT's resolved choice. The pretty one is imported only when chosen, so
 * a container (stdout not a TTY: JSON) never loads it; esbuild puts it in a chunk of its own.
 */
export async function logFormatter(format: 'json' | 'pretty', color = process.stdout.isTTY === true): Promise<LogFormatter | undefined> {
  if (format === 'json') return undefined;
  const { formatPretty } = await import('./log-pretty.ts');
  return (entry) => formatPretty(entry, color);
}

/**
 * One JSON object per line on stdout, the format Kubernetes log collectors expect (or, in a
 * developer's terminal, one readable line: see logFormatter).
 * Every string passes through `redact`, so a DATABASE_URL password can never reach a log, and an
 * error is logged by its cause (see describeCause), never by a failed statement's SQL or parameters.
 */
export function createLogger({ level, base = {}, write = defaultWrite, format }: LoggerOptions): Logger {
  const threshold = severity[level];
  const emit = (at: Exclude<LogLevel, 'silent'>, message: string, fields: LogFields = {}) => {
    if (severity[at] < threshold) return;
    const entry = { time: new Date().toISOString(), level: at, msg: message, ...base, ...fields };
    const line = JSON.stringify(entry, replaceForLog);
    // Through JSON first: a formatter sees exactly the redacted values the JSON line carries.
    write(format ? format(JSON.parse(line) as LogEntry) : line);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (fields) => createLogger({ level, base: { ...base, ...fields }, write, format }),
  };
}

function defaultWrite(line: string): void {
  process.stdout.write(`${line}\n`);
}

function replaceForLog(key: string, value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  // `error` may also be a driver's WebSocket error event, whose target is the socket itself.
  if (value instanceof Error || (key === 'error' && typeof value === 'object' && value !== null)) {
    return { name: value instanceof Error ? value.name : 'Error', message: redact(describeCause(value)), code: firstCode(value) };
  }
  return value;
}

/** The first string `code` down the cause chain: a SQLSTATE or an errno, for filtering logs. */
function firstCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 8; depth += 1) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === 'string') return code;
    current = cause;
  }
  return undefined;
}

/** An error's stack frames under a first line that is its cause, not its message (see describeCause). */
export function safeStack(error: Error): string {
  const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  return [`${error.name}: ${describeCause(error)}`, ...frames].join('\n');
}

const credentialsInUrl = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]*@/gi;
const passwordAssignment = /(password\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)/gi;

/** Removes passwords from connection strings and `password=...` fragments. */
export function redact(text: string): string {
  return text.replace(credentialsInUrl, '$1***@').replace(passwordAssignment, '$1***');
}
