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

export interface LoggerOptions {
  level: LogLevel;
  base?: LogFields;
  write?: (line: string) => void;
}

/**
 * One JSON object per line on stdout, the format Kubernetes log collectors expect.
 * Every string passes through `redact`, so a DATABASE_URL password can never reach a log, and an
 * error is logged by its cause (see describeCause), never by a failed statement's SQL or parameters.
 */
export function createLogger({ level, base = {}, write = defaultWrite }: LoggerOptions): Logger {
  const threshold = severity[level];
  const emit = (at: Exclude<LogLevel, 'silent'>, message: string, fields: LogFields = {}) => {
    if (severity[at] < threshold) return;
    const entry = { time: new Date().toISOString(), level: at, msg: message, ...base, ...fields };
    write(JSON.stringify(entry, replaceForLog));
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (fields) => createLogger({ level, base: { ...base, ...fields }, write }),
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
