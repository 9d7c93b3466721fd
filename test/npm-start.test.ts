import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { isAlive } from './support/isolated.ts';

const projectRoot = new URL('../', import.meta.url).pathname;


// npm runs a script through `sh -c`, and dash does not exec a script's last command: without the
// script's own `exec`, npm forwards SIGTERM to the shell, the shell dies, and node keeps the port.
it.each(['start', 'dev'])('stops the server of npm run %s when npm gets SIGTERM', async (script) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'knfn-npm-'));
  const npm = spawn('npm', ['run', script], {
    cwd: projectRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  try {
    await expect.poll(() => /"msg":"listening","url":"([^"]+)"/.exec(output)?.[1], { timeout: 30_000 }).toBeDefined();
    const url = /"msg":"listening","url":"([^"]+)"/.exec(output)?.[1] ?? '';
    expect((await fetch(`${url}/health`)).status).toBe(200);
    // Linux lists a process's children here; the server is npm's child (start) or grandchild (dev).
    const children = (await readFile(`/proc/${npm.pid}/task/${npm.pid}/children`, 'utf8')).trim().split(/\s+/).map(Number);
    expect(children.length).toBeGreaterThan(0);

    npm.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect.poll(() => fetch(`${url}/health`).then(() => 'open', () => 'closed'), { timeout: 5000 }).toBe('closed');
    await expect.poll(() => children.filter(isAlive), { timeout: 5000 }).toEqual([]);
    expect(output).toContain('"msg":"stopped","forced":false');
  } finally {
    npm.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
