import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../runtime/isolated/free-port.ts';

export const projectRoot = new URL('../', import.meta.url).pathname;

export interface BenchProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** The last lines the process wrote, for error messages. */
  readonly output: () => string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The Node binary: one of the bench's runtimes. */
  node: string;
  /** Polled until it answers 200, as the queue-proxy polls a container's readiness probe. */
  readyPath?: string;
  /**
   * Requested once the process is ready, as the activator lets through the request that scaled a
   * function from zero: `startedInMs` then runs to its answer, which must be a 200.
   */
  firstRequestPath?: string;
  /** Where the process reads its port (the peer's runtime reads FUNC_PORT). */
  portVariable?: string;
  cwd?: string;
  timeoutMs?: number;
  /** The image's compile cache (NODE_COMPILE_CACHE), warmed as the image warms it; see spawnBenchProcess. */
  compileCache?: string;
}

/** How a start is probed: the readiness path, then the first request let through. */
export type ProbePaths = Pick<StartOptions, 'readyPath' | 'firstRequestPath'>;

const keptOutputChars = 16_384;

/**
 * Drains a child's pipe as a container runtime does (so each log line costs the child what it
 * costs in a pod) while keeping only the tail: a product process at 30k requests/s logs tens of
 * MiB in a run, which would otherwise pile up in the bench's own memory.
 */
export function drainKeepingTail(streams: (NodeJS.ReadableStream | null)[]): () => string {
  let tail = '';
  for (const stream of streams) {
    stream?.on('data', (chunk: Buffer) => {
      tail += chunk.toString();
      if (tail.length > 2 * keptOutputChars) tail = tail.slice(-keptOutputChars);
    });
  }
  return () => tail.slice(-keptOutputChars);
}

/**
 * The environment every bench process starts from: the image's (NODE_ENV=production), a port, a
 * DATA_DIR of its own, and nothing else of this machine's. In particular NODE_EXTRA_CA_CERTS,
 * which this machine sets and the image does not, is left out: it costs Node 20 about 35 ms of
 * every start.
 */
export function baseEnv(dataDir: string): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', DATA_DIR: dataDir };
}

/**
 * `<node> <args>` with the image's environment plus `env`, a DATA_DIR of its own (removed when it
 * exits: the event journal and the embedded database are one process's each, and a journal left
 * by an earlier run would replay its events into this run's database) and its output drained.
 * With `compileCache`, the process gets a copy of it in its DATA_DIR as NODE_COMPILE_CACHE: every
 * pod starts from the image's cache and cannot change it (the root filesystem is read-only), so
 * what one process adds on exit must not speed up the next. `stop` sends SIGTERM, and SIGKILL
 * after `killAfterMs` when given. `spawnedAt` is when the process was spawned, after the copy.
 */
export function spawnBenchProcess(
  node: string,
  args: string[],
  env: Record<string, string>,
  {
    cwd = projectRoot,
    dataDirPrefix = 'knfn-bench-',
    killAfterMs,
    compileCache,
  }: { cwd?: string; dataDirPrefix?: string; killAfterMs?: number; compileCache?: string | undefined } = {},
) {
  const dataDir = mkdtempSync(join(tmpdir(), dataDirPrefix));
  const cacheEnv: Record<string, string> = {};
  if (compileCache !== undefined) {
    cacheEnv['NODE_COMPILE_CACHE'] = join(dataDir, 'compile-cache');
    cpSync(compileCache, cacheEnv['NODE_COMPILE_CACHE'], { recursive: true });
  }
  const spawnedAt = performance.now();
  const child = spawn(node, args, { cwd, env: { ...baseEnv(dataDir), ...cacheEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = drainKeepingTail([child.stdout, child.stderr]);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      rmSync(dataDir, { recursive: true, force: true });
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const forced = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(forced);
  };
  return { child, output, exited, stop, spawnedAt };
}

/**
 * Starts `<node> <args>` on a free port and resolves once GET `readyPath` answers 200 (polled every
 * 5 ms: the queue-proxy polls every 50, which would blur every figure by up to 50 ms), and then
 * GET `firstRequestPath`, when given, answered.
 */
export async function startProcess(
  args: string[],
  env: Record<string, string>,
  { node, readyPath = '/health', firstRequestPath, portVariable = 'PORT', cwd = projectRoot, timeoutMs = 30_000, compileCache }: StartOptions,
): Promise<BenchProcess & { startedInMs: number }> {
  const port = await freePort();
  const { child, output, stop, spawnedAt: started } = spawnBenchProcess(node, args, { [portVariable]: String(port), ...env }, { cwd, compileCache });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}:\n${output()}`);
    if (performance.now() - started > timeoutMs) {
      await stop();
      throw new Error(`${args.join(' ')} did not answer ${readyPath} within ${timeoutMs} ms:\n${output()}`);
    }
    const status = await fetch(`${url}${readyPath}`).then(
      (response) => response.arrayBuffer().then(() => response.status),
      () => 0,
    );
    if (status === 200) {
      if (firstRequestPath !== undefined) await requestOk(`${url}${firstRequestPath}`, stop, output);
      return { child, url, output, stop, startedInMs: performance.now() - started };
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function requestOk(url: string, stop: () => Promise<void>, output: () => string): Promise<void> {
  const answer = await fetch(url).then(
    async (response) => ({ status: response.status, body: await response.text() }),
    (error: unknown) => ({ status: 0, body: String(error) }),
  );
  if (answer.status === 200) return;
  await stop();
  throw new Error(`GET ${url} answered ${answer.status || 'nothing'} after the readiness probe passed: ${answer.body}\n${output()}`);
}

/** Resident set size of a running process in KiB, from /proc (Linux only). */
export async function residentKib(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match?.[1] ? Number(match[1]) : undefined;
}

/** CPU time (user + system) a running process has used so far, in microseconds, from /proc. */
export async function cpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  // Linux reports in clock ticks of 1/100 s (USER_HZ) on every common architecture.
  return ticks * 10_000;
}

/** A process and every process below it (function processes, nginx and its workers). */
async function processTree(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const children = await Promise.all(
    tasks.map((task) => readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')),
  );
  const direct = children.flatMap((list) => list.split(' ').filter(Boolean).map(Number));
  return [pid, ...(await Promise.all(direct.map(processTree))).flat()];
}

/** CPU microseconds used so far by each process of a tree, by pid. */
export async function treeCpuMicros(pid: number): Promise<Map<number, number>> {
  const pids = await processTree(pid);
  const used = await Promise.all(pids.map((each) => cpuMicros(each).catch(() => undefined)));
  return new Map(pids.flatMap((each, index) => (used[index] === undefined ? [] : [[each, used[index]]])));
}

/**
 * CPU a tree used between two samples. A process that started in between counts from 0; one that
 * exited in between is lost, which the bench avoids by keeping its processes up while it measures.
 */
export function cpuUsedBetween(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, micros] of after) sum += micros - (before.get(pid) ?? 0);
  return sum;
}

/** The same, split by the role `roleOf` reads in each process's command line. */
export async function cpuUsedByRole(
  before: Map<number, number>,
  after: Map<number, number>,
  roleOf: (commandLine: string) => string,
): Promise<Record<string, number>> {
  const byRole: Record<string, number> = {};
  for (const [pid, micros] of after) {
    const commandLine = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    const role = roleOf(commandLine);
    byRole[role] = (byRole[role] ?? 0) + micros - (before.get(pid) ?? 0);
  }
  return byRole;
}
