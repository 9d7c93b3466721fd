import type { LogEntry } from './logger.ts';

const levelStyle: Record<string, { label: string; color: string }> = {
  debug: { label: 'DEBUG', color: '\x1b[90m' },
  info: { label: 'INFO ', color: '\x1b[32m' },
  warn: { label: 'WARN ', color: '\x1b[33m' },
  error: { label: 'ERROR', color: '\x1b[31m' },
};
const dim = '\x1b[2m';
const reset = '\x1b[0m';

/**
 * One readable line per entry for a developer's terminal (`LOG_FORMAT=pretty`, or a TTY under
 * `auto`): `12:00:01.234 INFO  GET /pingpong 200 3 ms  function=pingpong requestId=...`. The entry
 * arrives already redacted (runtime/logger.ts). Loaded only when chosen: containers log JSON and
 * never load this module.
 */
export function formatPretty(entry: LogEntry, color: boolean): string {
  const { time, level, msg, ...fields } = entry;
  const style = levelStyle[String(level)] ?? { label: String(level).toUpperCase().padEnd(5), color: '' };
  const paint = (code: string, text: string) => (color && code && text ? `${code}${text}${reset}` : text);
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  let headline = String(msg);
  if ((msg === 'request' || msg === 'request failed') && typeof fields['method'] === 'string') {
    // The access log: the request itself is the headline, the rest trails.
    const { method, path, status, ms, route: _route, ...rest } = fields;
    headline = `${String(method)} ${String(path)} ${String(status)} ${String(ms)} ms`;
    return join(paint(dim, clock), paint(style.color, style.label), headline, paint(dim, describe(rest)));
  }
  return join(paint(dim, clock), paint(style.color, style.label), headline, paint(dim, describe(fields)));
}

function join(...parts: string[]): string {
  return parts.filter(Boolean).join(' ');
}

function describe(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${show(value)}`)
    .join(' ');
}

function show(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  // A logged error arrives as { name, message, code }: its message says it.
  if (typeof value === 'object' && value !== null && 'message' in value && 'name' in value) {
    return JSON.stringify(String((value as { message: unknown }).message));
  }
  return JSON.stringify(value);
}
