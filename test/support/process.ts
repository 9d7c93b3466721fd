import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SpawnedProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

const projectRoot = new URL('../../', import.meta.url).pathname;

/** Runs a TypeScript entry of the project in its own Node process, as `npm start` would. */
export function spawnEntry(entry: string, env: Record<string, string>, args: readonly string[] = []): SpawnedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: projectRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/**
 * Starts the server entry and resolves with its base URL once it logs that it is listening. Its
 * DATA_DIR (the local broker's journal, PGlite) is a fresh directory unless `env` names one: a
 * test never shares queued events with another test or a dev run.
 */
export async function spawnServer(env: Record<string, string>, timeoutMs = 20_000): Promise<SpawnedProcess & { url: string }> {
  const dataDir = env['DATA_DIR'] ?? mkdtempSync(join(tmpdir(), 'knfn-data-'));
  const spawned = spawnEntry('runtime/main.ts', { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ...env });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${spawned.output()}`)), timeoutMs);
    const onData = () => {
      const match = /"msg":"listening","url":"([^"]+)"/.exec(spawned.output());
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    spawned.child.stdout?.on('data', onData);
    void spawned.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${spawned.output()}`));
    });
  });
  return { ...spawned, url };
}

/** SIGTERM to a spawned process that is still running, then waits for it to exit; nothing if it is gone. */
export async function stopProcess(spawned: SpawnedProcess | undefined): Promise<void> {
  if (!spawned || spawned.child.exitCode !== null) return;
  spawned.child.kill('SIGTERM');
  await spawned.exited;
}
