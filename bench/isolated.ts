import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseEnv, drainKeepingTail, projectRoot } from './processes.ts';
import type { BenchProcess } from './processes.ts';

const listeningLine = /"msg":"listening","url":"([^"]+)","mode":"isolated"/;

/**
 * `npm start -- --isolated` as a user runs it (under tsx, on the given Node): the generated nginx
 * gateway on the public port, each function's production bundle in a process of its own behind
 * its activator, started by its first request. Resolves once the gateway listens.
 */
export async function startIsolated(node: string, env: Record<string, string>, timeoutMs = 60_000): Promise<BenchProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'knfn-bench-isolated-'));
  const child = spawn(node, ['--import', 'tsx', 'runtime/main.ts', '--isolated'], {
    cwd: projectRoot,
    env: {
      ...baseEnv(dataDir),
      PORT: '0',
      ISOLATED_GATEWAY: 'nginx',
      // No function stops for idleness while the bench waits for the worker to store everything.
      ISOLATED_IDLE_MS: '3600000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = drainKeepingTail([child.stdout, child.stderr]);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      rmSync(dataDir, { recursive: true, force: true });
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(forced);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start -- --isolated did not listen within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
      const watch = () => {
        const match = listeningLine.exec(output());
        if (match?.[1] === undefined) return;
        clearTimeout(timer);
        child.stdout.off('data', watch);
        resolve(match[1]);
      };
      child.stdout.on('data', watch);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`npm start -- --isolated exited before listening:\n${output()}`));
      });
    });
    return { child, url, output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
