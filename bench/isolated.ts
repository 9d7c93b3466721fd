import { spawnBenchProcess } from './processes.ts';
import type { BenchProcess } from './processes.ts';

const listeningLine = /"msg":"listening","url":"([^"]+)","mode":"isolated"/;

/**
 * `npm start -- --isolated` as a user runs it (under tsx, on the given Node): the generated nginx
 * gateway on the public port, each function's production bundle in a process of its own behind
 * its activator, started by its first request. Resolves once the gateway listens.
 */
export async function startIsolated(node: string, env: Record<string, string>, timeoutMs = 60_000): Promise<BenchProcess> {
  const { child, output, exited, stop } = spawnBenchProcess(
    node,
    ['--import', 'tsx', 'runtime/main.ts', '--isolated'],
    {
      PORT: '0',
      ISOLATED_GATEWAY: 'nginx',
      // No function stops for idleness while the bench waits for the worker to store everything.
      ISOLATED_IDLE_MS: '3600000',
      ...env,
    },
    { dataDirPrefix: 'knfn-bench-isolated-', killAfterMs: 20_000 },
  );
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
