import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { createInterface } from 'node:readline';
import type { Logger } from '../logger.ts';
import { freePort } from './free-port.ts';
import { batchWrites, relayLines } from './relay-lines.ts';

export interface FunctionProcess {
  readonly pid: number;
  readonly port: number;
  /** Settles when the process has exited, for whatever reason. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (the child drains its in-flight requests), SIGKILL once `graceMs` has passed. */
  stop(graceMs: number): Promise<void>;
}

export interface SpawnFunctionOptions {
  name: string;
  bundle: string;
  env: Record<string, string | undefined>;
  startTimeoutMs: number;
  log: Logger;
}

/** Why a cold start failed; safe to show to the client (no paths, no output). */
export class ColdStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ColdStartError';
  }
}

const probeIntervalMs = 15;

/** Every function process's lines, a write per turn of the event loop rather than per chunk read. */
const relayToStdout = batchWrites((lines) => process.stdout.write(lines));

/**
 * Starts one function from its bundle, as its container would, and resolves once it answers its
 * liveness probe. Liveness rather than readiness: readiness is 503 while the database is away, and
 * a function must still start then to answer its own 503s.
 */
export async function spawnFunction({ name, bundle, env, startTimeoutMs, log }: SpawnFunctionOptions): Promise<FunctionProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [bundle], {
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  child.once('error', (error) => log.error('function process failed to spawn', { function: name, error }));
  // The child's lines are JSON logs already (with its service and revision), passed on whole;
  // stderr is not, so it is wrapped to keep the gateway's stdout one JSON object per line.
  relayLines(child.stdout, relayToStdout);
  createInterface({ input: child.stderr }).on('line', (line) => log.warn('function stderr', { function: name, line }));

  const pid = child.pid;
  const stop = async (graceMs: number) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const startFailed = async (reason: string): Promise<never> => {
    await stop(0);
    throw new ColdStartError(`function ${name} did not start: ${reason}`);
  };
  if (pid === undefined) return startFailed('the process could not be spawned');

  const deadline = Date.now() + startTimeoutMs;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!(await answersHealth(port))) {
    if (gone) {
      const { code, signal } = await exited;
      return startFailed(`it exited with ${signal ?? `code ${String(code)}`}`);
    }
    if (Date.now() >= deadline) return startFailed(`no answer on /health within ${startTimeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, probeIntervalMs));
  }
  return { pid, port, exited, stop };
}

function answersHealth(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(false));
  });
}
