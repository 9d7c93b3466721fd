import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderWrkScript, summaryPrefix } from './wrk-script.ts';
import type { WrkScript } from './wrk-script.ts';

export const wrkBinary = '/usr/bin/wrk';

export interface WrkOptions extends Partial<Omit<WrkScript, 'seconds'>> {
  connections: number;
  threads: number;
  seconds: number;
  /** How long wrk waits after `seconds` for the last answers (each connection then goes quiet). */
  graceSeconds?: number;
}

export interface WrkRun {
  /** 2xx answers per second over the span from the first request to the last answer. */
  rps: number;
  seconds: number;
  sent: number;
  /** 2xx answers (no scenario answers 3xx: every answer below 400 is a 2xx here). */
  ok: number;
  /** Answers of 400 and above. */
  non2xx: number;
  /** Connect, read and write errors (wrk reconnects; the request's fate is unknown). */
  socketErrors: number;
  /** Answers slower than wrk's 2 s timeout: wrk counts them as timeouts, but they did arrive. */
  slow: number;
  /** Sent but never answered before wrk exited: 0 unless an answer took longer than the grace. */
  unanswered: number;
  p50Ms: number;
  p99Ms: number;
  /** With `collectPongs`: the pong numbers answered, over every thread. */
  pongs: { unique: number; duplicates: number; lowest: number; highest: number; malformed: number } | undefined;
}

interface Summary {
  sent: number;
  answered: number;
  seconds: number;
  p50Us: number;
  p99Us: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  status: number;
  pongs: number;
  duplicates: number;
  lowest: number;
  highest: number;
  malformed: number;
}

export function wrkInstalled(): boolean {
  return spawnSync(wrkBinary, ['-v']).error === undefined;
}

/** `wrk debian/4.1.0-3+b2 [epoll]`, for the report. */
export function wrkVersion(): string {
  const probe = spawnSync(wrkBinary, ['-v'], { encoding: 'utf8' });
  return /^wrk \S+/.exec(probe.stdout)?.[0] ?? 'wrk';
}

/** The flags a run used, as the report prints them. */
export function wrkFlags({ threads, connections, seconds }: Pick<WrkOptions, 'threads' | 'connections' | 'seconds'>): string {
  return `-t${threads} -c${connections} -d${seconds}s --latency`;
}

/**
 * One wrk run in its own process (it shares the machine's CPUs with the server, as every load
 * generator here must, but it is the lightest one), with the generated Lua script.
 */
export async function runWrk(url: string, options: WrkOptions): Promise<WrkRun> {
  const { connections, threads, seconds, graceSeconds = 1 } = options;
  const script: WrkScript = {
    seconds,
    targets: options.targets ?? [],
    post: options.post,
    collectPongs: options.collectPongs ?? false,
  };
  const dir = await mkdtemp(join(tmpdir(), 'knfn-wrk-'));
  try {
    const file = join(dir, 'run.lua');
    await writeFile(file, renderWrkScript(script));
    const args = ['-t', String(threads), '-c', String(connections), '-d', `${Math.ceil(seconds + graceSeconds)}s`, '--latency', '-s', file, url];
    const child = spawn(wrkBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const line = stdout.split('\n').find((each) => each.startsWith(summaryPrefix));
    if (code !== 0 || line === undefined) throw new Error(`wrk ${args.join(' ')} exited with ${code}:\n${stdout}${stderr}`);
    return toRun(JSON.parse(line.slice(summaryPrefix.length)) as Summary, script.collectPongs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function toRun(summary: Summary, collectPongs: boolean): WrkRun {
  const ok = summary.answered - summary.status;
  const socketErrors = summary.connect + summary.read + summary.write;
  return {
    rps: summary.seconds > 0 ? ok / summary.seconds : Number.NaN,
    seconds: summary.seconds,
    sent: summary.sent,
    ok,
    non2xx: summary.status,
    socketErrors,
    slow: summary.timeout,
    unanswered: Math.max(0, summary.sent - summary.answered),
    p50Ms: summary.p50Us / 1000,
    p99Ms: summary.p99Us / 1000,
    pongs: collectPongs
      ? { unique: summary.pongs, duplicates: summary.duplicates, lowest: summary.lowest, highest: summary.highest, malformed: summary.malformed }
      : undefined,
  };
}
