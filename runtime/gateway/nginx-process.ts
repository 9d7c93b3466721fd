import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { accessSync, chmodSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { NginxGatewaySettings } from './nginx-config.ts';

export type NginxFiles = NginxGatewaySettings['files'];

export interface RunningNginx {
  readonly pid: number;
  /** Settles when the master process has exited, for whatever reason. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGQUIT (workers finish their requests), SIGKILL to the whole group after `graceMs`; then removes its directory. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartNginxOptions {
  binary: string;
  /** Renders nginx.conf once the directory for its pid file and temp paths exists. */
  render: (files: NginxFiles) => string;
  /** The listen port: started means it accepts TCP connections. */
  port: number;
  host?: string;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  startTimeoutMs?: number;
}

const searchDirs = ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];

/** The nginx binary on PATH or where distributions put it (sbin is often not on a user's PATH). */
export function findNginx(): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...searchDirs];
  return dirs.map((dir) => join(dir, 'nginx')).find((candidate) => isExecutable(candidate));
}

/** `nginx -v` as numbers, e.g. [1, 28, 0]; nginx writes it to stderr. */
export function nginxVersion(binary: string): [number, number, number] {
  const said = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  const match = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(`${said.stderr}${said.stdout}`);
  if (match === null) throw new Error(`${binary} -v did not name an nginx version: ${said.stderr}${said.error?.message ?? ''}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/**
 * Whether `server <name> resolve` works in an upstream{} block, as the cluster's configuration
 * needs: open source nginx has it since 1.27.3 (Debian 12 ships 1.22).
 */
export function resolvesUpstreamNames(binary: string): boolean {
  const [major, minor, patch] = nginxVersion(binary);
  return major > 1 || (major === 1 && (minor > 27 || (minor === 27 && patch >= 3)));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh directory holding nginx.conf, the pid file and the temp paths. Run as root, nginx's
 * workers are `nobody`: they must traverse the directory and write in temp/.
 */
function prepareDir(render: (files: NginxFiles) => string): { dir: string; config: string; pid: string } {
  const dir = mkdtempSync(join(tmpdir(), 'knfn-nginx-'));
  chmodSync(dir, 0o755);
  const tempDir = join(dir, 'temp');
  mkdirSync(tempDir);
  chmodSync(tempDir, 0o777);
  const config = join(dir, 'nginx.conf');
  const pid = join(dir, 'nginx.pid');
  writeFileSync(config, render({ pid, tempDir }));
  return { dir, config, pid };
}

/** `-e stderr` so nothing is written to the compiled-in error log before the config is read. */
function nginxArgs(dir: string, config: string): string[] {
  return ['-p', dir, '-e', 'stderr', '-c', config, '-g', 'daemon off;'];
}

/**
 * nginx opens `access_log /dev/stdout` by path, which Linux refuses (ENXIO) when fd 1 is a socket,
 * and Node's 'pipe' stdio is a socketpair. A container's stdout is a real pipe; so is this FIFO.
 */
function spawnNginx(binary: string, args: string[], dir: string) {
  const fifo = join(dir, 'stdout');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(fifo, constants.O_WRONLY);
  // Its own process group, so a SIGKILL reaches the workers too (they outlive a killed master).
  const child = spawn(binary, args, { stdio: ['ignore', writeFd, 'pipe'], detached: true });
  closeSync(writeFd);
  const stdout = new Socket({ fd: readFd, readable: true, writable: false });
  if (child.stderr === null) throw new Error('nginx was spawned without a stderr pipe');
  return { child, stdout, stderr: child.stderr };
}

/** `nginx -t` on a rendered config: its verdict and what it said. */
export async function testNginxConfig(binary: string, render: (files: NginxFiles) => string): Promise<{ ok: boolean; output: string }> {
  const { dir, config } = prepareDir(render);
  try {
    const { child, stdout, stderr } = spawnNginx(binary, ['-t', ...nginxArgs(dir, config)], dir);
    let output = '';
    stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    stdout.destroy();
    return { ok: code === 0, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts nginx in the foreground; resolves once `port` accepts connections, rejects with nginx's stderr. */
export async function startNginx({ binary, render, port, host = '127.0.0.1', onLine, startTimeoutMs = 5000 }: StartNginxOptions): Promise<RunningNginx> {
  const { dir, config, pid: pidFile } = prepareDir(render);
  const { child, stdout, stderr: errors } = spawnNginx(binary, nginxArgs(dir, config), dir);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const spawnFailed = new Promise<Error>((resolve) => child.once('error', resolve));
  const stderr: string[] = [];
  createInterface({ input: stdout }).on('line', (line) => onLine?.(line, 'stdout'));
  createInterface({ input: errors }).on('line', (line) => {
    if (stderr.length < 50) stderr.push(line);
    onLine?.(line, 'stderr');
  });

  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  };
  // A test runner that dies must not leave nginx holding its ports.
  const onExit = () => killGroup();
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 3000) => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill('SIGQUIT');
        const timer = setTimeout(() => killGroup(), graceMs);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const failed = async (reason: string): Promise<never> => {
    await stop(0);
    throw new Error(`nginx did not start: ${reason}${stderr.length > 0 ? `\n${stderr.join('\n')}` : ''}`);
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    // The master writes its pid file after binding: a port that accepts while there is none
    // belongs to someone else (nginx then retries bind() for a while and gives up).
    const state = await Promise.race([
      accepts(host, port).then((ok) => (ok && hasWrittenPid(pidFile, child.pid) ? 'listening' : 'waiting')),
      exited.then(() => 'exited' as const),
      spawnFailed.then((error) => error),
    ]);
    if (state === 'listening' && child.pid !== undefined) return { pid: child.pid, exited, stop };
    if (state instanceof Error) return failed(state.message);
    if (state === 'exited') {
      const { code, signal } = await exited;
      // Let the last stderr lines arrive before quoting them.
      await new Promise((resolve) => setTimeout(resolve, 20));
      return failed(`it exited with ${signal ?? `code ${String(code)}`}`);
    }
    if (Date.now() >= deadline) return failed(`${host}:${port} did not accept connections within ${startTimeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function hasWrittenPid(file: string, pid: number | undefined): boolean {
  try {
    return readFileSync(file, 'utf8').trim() === String(pid);
  } catch {
    return false;
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
