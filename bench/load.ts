import { spawn } from 'node:child_process';
import { projectRoot } from './processes.ts';

export interface LoadOptions {
  connections: number;
  /** Fixed duration in seconds (warm-up) or a fixed number of requests (measured runs). */
  limit: { seconds: number } | { requests: number };
}

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  /** Socket errors, timeouts and non-2xx answers together. */
  errors: number;
  seconds: number;
}

interface AutocannonJson {
  start: string;
  finish: string;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  latency: { p50: number; p99: number };
}

/**
 * Runs autocannon as a child process, so the load generator never shares an event loop with the
 * server it measures. Measured runs use a fixed request count rather than a duration: autocannon
 * abandons the requests in flight when a duration runs out, and those still commit, which would
 * make "counter == 2xx answers" unverifiable.
 */
export async function runLoad(url: string, { connections, limit }: LoadOptions): Promise<LoadResult> {
  const bound = 'seconds' in limit ? ['-d', String(limit.seconds)] : ['-a', String(limit.requests)];
  const args = [`${projectRoot}node_modules/autocannon/autocannon.js`, '-c', String(connections), ...bound, '-j', url];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`autocannon exited with ${code}:\n${stderr}`);
  const json = JSON.parse(stdout) as AutocannonJson;
  // Wall time from autocannon's own timestamps: its `duration` field is rounded to 10 ms.
  const seconds = (Date.parse(json.finish) - Date.parse(json.start)) / 1000;
  return {
    rps: json['2xx'] / seconds,
    p50Ms: json.latency.p50,
    p99Ms: json.latency.p99,
    ok: json['2xx'],
    errors: json.errors + json.timeouts + json.non2xx,
    seconds,
  };
}
