import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { spawnEntry, spawnServer } from './support/process.ts';

const projectRoot = new URL('../', import.meta.url).pathname;
// `time` has no database work: these servers start in a moment.
const env = { FUNCTION: 'time', STATS_ENABLED: 'false' };

it('logs JSON when stdout is a pipe (containers, collectors)', async () => {
  const server = await spawnServer(env);
  try {
    await fetch(`${server.url}/api/time`);
    await expect.poll(() => server.output()).toMatch(/\{"time":"[^"]+","level":"info","msg":"request","function":"time",.*"method":"GET","path":"\/api\/time",.*"status":200/);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});

it('logs one readable line per request with LOG_FORMAT=pretty, uncoloured into a pipe', async () => {
  const spawned = spawnEntry('runtime/main.ts', { PORT: '0', HOST: '127.0.0.1', ...env, LOG_FORMAT: 'pretty' });
  try {
    await expect.poll(() => /INFO {2}listening url=(\S+)/.exec(spawned.output())?.[1], { timeout: 20_000 }).toBeDefined();
    const url = /INFO {2}listening url=(\S+)/.exec(spawned.output())?.[1] ?? '';
    await fetch(`${url}/api/time?tz=Asia/Tokyo`);
    await expect.poll(() => spawned.output()).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} INFO {2}GET \/api\/time 200 [\d.]+ ms function=time requestId=[0-9a-f-]{36}$/m);
    expect(spawned.output()).not.toContain('{"time"');
    expect(spawned.output()).not.toContain('\x1b[');
  } finally {
    spawned.child.kill('SIGTERM');
    await spawned.exited;
  }
});

// util-linux's `script` gives the server a real terminal: LOG_FORMAT unset (auto) must pick the
// coloured lines there.
it.runIf(existsSync('/usr/bin/script'))('picks coloured lines by itself in a terminal', async () => {
  const command = 'PORT=0 HOST=127.0.0.1 FUNCTION=time STATS_ENABLED=false timeout -s TERM 6 node --import tsx runtime/main.ts';
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: projectRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', TERM: 'xterm' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  expect(output).toMatch(/\x1b\[2m\d{2}:\d{2}:\d{2}\.\d{3}\x1b\[0m \x1b\[32mINFO \x1b\[0m listening /);
  expect(output).not.toContain('{"time"');
});
