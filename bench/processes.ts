import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../runtime/isolated/free-port.ts';

export const projectRoot = new URL('../', import.meta.url).pathname;

export interface BenchProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Starts `node <args>` with PORT set and resolves once GET `readyPath` answers 200. */
export async function startProcess(
  args: string[],
  env: Record<string, string>,
  readyPath = '/health',
  timeoutMs = 30_000,
): Promise<BenchProcess & { startedInMs: number }> {
  const port = await freePort();
  // Its own DATA_DIR: the event journal and the embedded database are one process's each, and a
  // journal left by an earlier run would replay its events into this run's database.
  const dataDir = mkdtempSync(join(tmpdir(), 'knfn-bench-'));
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      rmSync(dataDir, { recursive: true, force: true });
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}:\n${output}`);
    if (performance.now() - started > timeoutMs) {
      await stop();
      throw new Error(`${args.join(' ')} did not answer ${readyPath} within ${timeoutMs} ms:\n${output}`);
    }
    const status = await fetch(`${url}${readyPath}`).then(
      (response) => response.arrayBuffer().then(() => response.status),
      () => 0,
    );
    if (status === 200) return { child, url, output: () => output, stop, startedInMs: performance.now() - started };
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resident set size of a running process in KiB, from /proc (Linux only). */
export async function residentKib(pid: number): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match?.[1] ? Number(match[1]) : undefined;
}

/** CPU time (user + system) a running process has used so far, in microseconds, from /proc. */
export async function cpuMicros(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  // Linux reports in clock ticks of 1/100 s (USER_HZ) on every common architecture.
  return ticks * 10_000;
}
