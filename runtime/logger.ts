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
 * Every string passes through `redact`, so a DATABASE_URL password can never reach a log.
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

function replaceForLog(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message), code: (value as { code?: unknown }).code };
  }
  return value;
}

const credentialsInUrl = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]*@/gi;
const passwordAssignment = /(password\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)/gi;

/** Removes passwords from connection strings and `password=...` fragments. */
export function redact(text: string): string {
  return text.replace(credentialsInUrl, '$1***@').replace(passwordAssignment, '$1***');
}
