import { isatty } from 'node:tty';
// A CommonJS module: Node's ESM loader sees only its default export (module.exports).
import sonicBoom from 'sonic-boom';
import type { SonicBoom } from 'sonic-boom';
import { describeCause } from '../db/errors.ts';
import type { LogLevel } from './config.ts';

const severity: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** The fields are read when the child first writes a line: a child that never logs costs one object. */
  child(fields: LogFields): Logger;
}

/** What one log call produces, after redaction: what a formatter turns into a line. */
export type LogEntry = { time: string; level: string; msg: string } & LogFields;
export type LogFormatter = (entry: LogEntry) => string;

export interface LoggerOptions {
  level: LogLevel;
  base?: LogFields;
  /** Receives each line (without its newline) as it is logged; default: buffered writes to stdout. */
  write?: (line: string) => void;
  /** Undefined: one JSON object per line. */
  format?: LogFormatter | undefined;
}

/**
 * The formatter for LOG_FORMAT's resolved choice. The pretty one is imported only when chosen, so
 * a container (stdout not a TTY: JSON) never loads it; esbuild puts it in a chunk of its own.
 */
export async function logFormatter(format: 'json' | 'pretty', color = isatty(1)): Promise<LogFormatter | undefined> {
  if (format === 'json') return undefined;
  const { formatPretty } = await import('./log-pretty.ts');
  return (entry) => formatPretty(entry, color);
}

/**
 * One JSON object per line on stdout, the format Kubernetes log collectors expect (or, in a
 * developer's terminal, one readable line: see logFormatter).
 * Every string passes through `redact`, so a DATABASE_URL password can never reach a log, and an
 * error is logged by its cause (see describeCause), never by a failed statement's SQL or parameters.
 * Lines go out in batches (see stdoutLines); `flushLogs` waits for them before the process exits.
 */
export function createLogger({ level, base = {}, write, format }: LoggerOptions): Logger {
  const output = write ?? stdoutLines();
  // Through JSON first: a formatter sees exactly the redacted values the JSON line carries.
  const emit = format ? (line: string) => output(format(JSON.parse(line) as LogEntry)) : output;
  return new JsonLogger(severity[level], fieldsJson(base), emit);
}

/**
 * Builds each line by hand rather than through `JSON.stringify(entry, replacer)`: the access log
 * writes one per request, and a replacer called for every key (with two regular expressions per
 * string) cost about a tenth of the CPU of GET /pingpong. The fields a child adds are serialised
 * once, when it first logs, and reused for every line after.
 */
class JsonLogger implements Logger {
  #bindings: string | undefined;

  constructor(
    private readonly threshold: number,
    bindings: string | undefined,
    private readonly output: (line: string) => void,
    private readonly parent?: JsonLogger,
    private readonly fields?: LogFields,
  ) {
    this.#bindings = bindings;
  }

  debug(message: string, fields?: LogFields): void {
    if (severity.debug >= this.threshold) this.emit('debug', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    if (severity.info >= this.threshold) this.emit('info', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    if (severity.warn >= this.threshold) this.emit('warn', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    if (severity.error >= this.threshold) this.emit('error', message, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.threshold, undefined, this.output, this, fields);
  }

  private bindings(): string {
    this.#bindings ??= (this.parent?.bindings() ?? '') + fieldsJson(this.fields ?? {});
    return this.#bindings;
  }

  private emit(level: Exclude<LogLevel, 'silent'>, message: string, fields: LogFields | undefined): void {
    const text = mayHoldSecret(message) ? redact(message) : message;
    const line = `{"time":"${isoNow()}","level":"${level}","msg":${JSON.stringify(text)}${this.bindings()}`;
    this.output(fields === undefined ? `${line}}` : `${line}${fieldsJson(fields)}}`);
  }
}

let clockSecond = Number.NaN;
let clockPrefix = '';

/**
 * `new Date().toISOString()`, with the part up to the second formatted once a second:
 * `toISOString` alone cost about 0.7 µs, more than the rest of an access log line.
 */
function isoNow(): string {
  const now = Date.now();
  const ms = now % 1000;
  const second = now - ms;
  if (second !== clockSecond) {
    clockSecond = second;
    clockPrefix = new Date(second).toISOString().slice(0, 20);
  }
  return `${clockPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

/**
 * `,"key":value` for each field; a later duplicate of a key wins when the line is parsed, as a
 * spread would. Flat fields with nothing to redact (the access log's) go through one
 * `JSON.stringify` call, which is several times cheaper than one per value.
 */
function fieldsJson(fields: LogFields): string {
  for (const key in fields) {
    const value = fields[key];
    if (typeof value === 'object' ? value !== null : typeof value === 'string' && mayHoldSecret(value)) return redactedFieldsJson(fields);
  }
  const json = JSON.stringify(fields);
  return json.length > 2 ? `,${json.slice(1, -1)}` : '';
}

/** Every string inside redacted, errors described by their cause: the replacer does both. */
function redactedFieldsJson(fields: LogFields): string {
  const json = JSON.stringify(fields, replaceForLog);
  return json.length > 2 ? `,${json.slice(1, -1)}` : '';
}

function replaceForLog(key: string, value: unknown): unknown {
  if (typeof value === 'string') return mayHoldSecret(value) ? redact(value) : value;
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

/**
 * False for a string neither pattern of `redact` can match: a credential in a URL needs an `@`,
 * an assignment a `=` or `:`. Most logged strings (paths, ids, names) have none of the three.
 */
function mayHoldSecret(text: string): boolean {
  return text.indexOf('@') !== -1 || text.indexOf('=') !== -1 || text.indexOf(':') !== -1;
}

/** The parts of sonic-boom's state that say whether everything written has reached the fd. */
interface DestinationState {
  _writing: boolean;
  _len: number;
}

let stdout: SonicBoom | undefined;
/** Lines logged in this turn of the event loop, handed to the writer together at its end. */
let pending: string[] = [];
let handOverScheduled = false;
let stdoutClosed = false;

/**
 * One writer on fd 1 for every logger of the process, so lines keep their order. A line costs a
 * push onto `pending`; once per turn of the event loop the turn's lines go to sonic-boom as one
 * string, which writes from the thread pool whenever no write is in flight. Under load one
 * write(2) then carries many lines, where each request used to make its own synchronous write.
 * (Handing sonic-boom each line by itself measured 1-4 µs a line: it re-measures its growing
 * buffer on every call.) A crash still gets what is buffered, written synchronously on exit.
 */
function stdoutLines(): (line: string) => void {
  if (!stdout) {
    const destination = new sonicBoom.SonicBoom({ fd: 1, sync: false });
    destination.on('error', (error: NodeJS.ErrnoException) => {
      // The reader is gone (EPIPE): nothing more can be logged, and that must not end the process.
      if (error.code === 'EPIPE') {
        stdoutClosed = true;
        destination.write = () => true;
      }
      else process.stderr.write(`knfn: writing logs failed: ${describeCause(error)}\n`);
    });
    process.on('exit', () => {
      handOver();
      const state = destination as unknown as DestinationState;
      try {
        if (state._len > 0) destination.flushSync();
      } catch {
        // Nowhere left to say it: stdout is closed or broken.
      }
    });
    stdout = destination;
  }
  return (line) => {
    pending.push(line);
    if (!handOverScheduled) {
      handOverScheduled = true;
      setImmediate(handOver);
    }
  };
}

function handOver(): void {
  handOverScheduled = false;
  if (pending.length === 0 || stdout === undefined) return;
  const text = `${pending.join('\n')}\n`;
  pending = [];
  stdout.write(text);
}

/**
 * Resolves once every line logged so far has been written to stdout, or after `timeoutMs` (a
 * reader that stopped reading must not keep the process from exiting). Call before process.exit.
 */
export function flushLogs(timeoutMs = 2000): Promise<void> {
  const destination = stdout;
  if (!destination) return Promise.resolve();
  handOver();
  const state = destination as unknown as DestinationState;
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const settled = () => {
      if (!stdoutClosed && (state._writing || state._len > 0)) {
        destination.once('drain', settled);
        return;
      }
      clearTimeout(timer);
      resolve();
    };
    settled();
  });
}
