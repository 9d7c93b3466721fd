import { execFile, spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nameProblem, newFunctionFiles } from '../scripts/new-function.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

const run = promisify(execFile);
const root = new URL('../', import.meta.url).pathname;
const skipped = new Set(['node_modules', '.git', '.data', 'dist']);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function node(cwd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const tsx = (cwd: string, args: readonly string[], env?: Record<string, string>) => node(cwd, ['--import', 'tsx', ...args], env);

/** Starts a server entry, resolving with its URL once it logs `listening`. */
function startServer(cwd: string, args: readonly string[], env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${output}`)), 30_000);
    child.stdout.on('data', () => {
      const url = /"msg":"listening","url":"([^"]+)"/.exec(output)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      resolve({ url, stop: () => (child.kill('SIGTERM'), exited) });
    });
    void exited.then(() => reject(new Error(`exited before listening:\n${output}`)));
  });
}

/** The README's "Write a function" code blocks that start with a `// <path>` line: path -> the rest. */
function readmeExampleFiles(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = /\n## Write a function\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const blocks = [...section.matchAll(/```ts\n\/\/ (\S+)\n([\s\S]*?)```/g)];
  return new Map(blocks.map((block) => [block[1] ?? '', block[2] ?? '']));
}

describe('npm run new', () => {
  it('refuses names that are not kebab-case, 2-40 characters', () => {
    for (const name of ['Hello', 'hello_world', 'x', '9lives', 'trailing-', 'double--dash', 'a'.repeat(41)]) {
      expect(nameProblem(name), name).toMatch(/is not a function name: kebab-case, 2-40 characters/);
    }
    expect(nameProblem('a'.repeat(40))).toBeUndefined();
  });

  it("refuses an existing function's folder, a shared folder and another function's route", () => {
    expect(nameProblem('pingpong')).toBe('functions/pingpong/ exists already: pick another name');
    expect(nameProblem('shared')).toBe('functions/shared/ exists already: pick another name');
    expect(nameProblem('view', undefined, ['/', '/view'])).toBe('another function already answers /view: pick another name');
  });

  it('uses c.var.db only when asked for the database', () => {
    expect(newFunctionFiles({ name: 'hi', database: false }).get('index.ts')).not.toContain('c.var.db');
    expect(newFunctionFiles({ name: 'hi', database: false }).get('index.ts')).toContain('usesDatabase: false');
    expect(newFunctionFiles({ name: 'hi', database: true }).get('index.ts')).toContain('c.var.db.execute');
    expect(newFunctionFiles({ name: 'hi', database: true }).get('index.test.ts')).toContain('createTestDatabase');
  });
});

/**
 * The whole promise of one folder, in a copy of the project (the working tree is never touched):
 * scaffold two functions, then with no other edit they type-check, pass their own tests, are
 * served by `npm start`, get a Knative Service, gateway routes, README rows and their bundles.
 */
describe('a scaffolded function in a copy of the project', () => {
  let copy: string;
  let database: TestDatabase;

  beforeAll(async () => {
    copy = mkdtempSync(join(tmpdir(), 'knfn-new-'));
    cpSync(root, copy, { recursive: true, filter: (source) => !skipped.has(relative(root, source).split(sep)[0] ?? '') });
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database?.drop();
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('writes the folder and prints the next steps, then refuses the same name', async () => {
    const plain = await tsx(copy, ['scripts/new-function.ts', 'hello-world']);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('wrote functions/hello-world/index.ts and functions/hello-world/index.test.ts');
    expect(plain.stdout).toContain('npm run manifests');
    expect(plain.stdout).toContain('curl localhost:8080/hello-world');
    const withDatabase = await tsx(copy, ['scripts/new-function.ts', 'hello-db', '--database']);
    expect(withDatabase.code).toBe(0);

    const again = await tsx(copy, ['scripts/new-function.ts', 'hello-world']);
    expect(again).toMatchObject({ code: 1, stderr: 'npm run new: functions/hello-world/ exists already: pick another name\n' });
    const taken = await tsx(copy, ['scripts/new-function.ts', 'view']);
    expect(taken).toMatchObject({ code: 1, stderr: 'npm run new: another function already answers /view: pick another name\n' });
    const bad = await tsx(copy, ['scripts/new-function.ts', 'Hello']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/"Hello" is not a function name/);
    expect(await tsx(copy, ['scripts/new-function.ts'])).toMatchObject({ code: 2, stderr: 'usage: npm run new -- <name> [--database]\n' });
  });

  it("takes the README's example: its table, its generated migration, its handler and test", async () => {
    const files = readmeExampleFiles();
    expect([...files.keys()]).toEqual(['db/schema.ts', 'functions/greetings/index.ts', 'functions/greetings/index.test.ts']);
    for (const [path, content] of files) {
      if (path === 'db/schema.ts') appendFileSync(join(copy, path), `\n${content}`);
      else {
        mkdirSync(join(copy, dirname(path)), { recursive: true });
        writeFileSync(join(copy, path), content);
      }
    }
    const generate = await node(copy, [join(root, 'node_modules/drizzle-kit/bin.cjs'), 'generate']);
    expect(generate.code, generate.stdout + generate.stderr).toBe(0);
    const migration = readdirSync(join(copy, 'migrations')).filter((file) => file.endsWith('.sql')).sort().at(-1) ?? '';
    expect(readFileSync(join(copy, 'migrations', migration), 'utf8')).toContain('CREATE TABLE "greetings"');
  });

  it('type-checks and passes its own generated tests', async () => {
    writeFileSync(
      join(copy, 'tsconfig.new.json'),
      JSON.stringify({ extends: './tsconfig.json', include: ['functions/hello-world', 'functions/hello-db', 'functions/greetings'] }),
    );
    const typecheck = await node(copy, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.new.json']);
    expect(typecheck.stdout + typecheck.stderr).toBe('');
    expect(typecheck.code).toBe(0);
    const tests = await node(copy, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'functions/hello-world', 'functions/hello-db', 'functions/greetings'], {
      NO_COLOR: '1',
    });
    expect(tests.stdout, tests.stderr).toMatch(/Tests\s+3 passed \(3\)/);
    expect(tests.code).toBe(0);
  });

  it('is served by npm start beside every other function', async () => {
    const server = await startServer(copy, ['--import', 'tsx', 'runtime/main.ts'], { DATABASE_URL: database.url, DATA_DIR: join(copy, '.data') });
    try {
      const hello = await fetch(`${server.url}/hello-world`);
      expect(hello.status).toBe(200);
      expect(await hello.json()).toEqual({ message: 'hello from hello-world' });
      expect(await (await fetch(`${server.url}/hello-db`)).json()).toEqual({ database: database.name });
      expect(await (await fetch(`${server.url}/pings`)).text()).toBe('0');
      // The README's example, its table migrated at start.
      expect(await (await fetch(`${server.url}/greetings/ada`, { method: 'POST' })).json()).toEqual({ greeting: 'hello ada', count: 1 });
    } finally {
      await server.stop();
    }
  });

  it('gets its Knative Service, gateway routes and README rows from npm run manifests', async () => {
    const manifests = await tsx(copy, ['scripts/manifests.ts']);
    expect(manifests.code, manifests.stderr).toBe(0);
    const service = readFileSync(join(copy, 'knative/functions/hello-world.yaml'), 'utf8');
    expect(service).toContain('name: hello-world\n');
    expect(service).toContain('- dist/functions/hello-world/main.js');
    // The default scale: to zero, at most 10, aiming at 100 concurrent requests.
    expect(service).toContain('autoscaling.knative.dev/min-scale: "0"');
    expect(service).toContain('autoscaling.knative.dev/max-scale: "10"');
    expect(service).toContain('autoscaling.knative.dev/target: "100"');
    expect(readFileSync(join(copy, 'knative/functions/kustomization.yaml'), 'utf8')).toContain('- hello-world.yaml');
    expect(readFileSync(join(copy, 'knative/gateway/configmap.yaml'), 'utf8')).toMatch(/location [=~] "\^?\/hello-world(\\\\z)?"/);
    const readme = readFileSync(join(copy, 'README.md'), 'utf8');
    expect(readme).toContain('| hello-world | `GET /hello-world` | GET /hello-world answers a JSON greeting. |');
    expect(readme).toContain('| hello-db | `GET /hello-db` | GET /hello-db answers the name of the database it reads, as JSON. |');
  });

  it('gets its own bundle, and dist/main.js serves it without a functions/ folder to read', async () => {
    const build = await tsx(copy, ['scripts/build.ts']);
    expect(build.code, build.stderr).toBe(0);
    expect(build.stdout).toContain('and 13 function bundles');
    // Outside the project: a bundle must carry its list of functions, not scan for them.
    const away = mkdtempSync(join(tmpdir(), 'knfn-new-dist-'));
    try {
      renameSync(join(copy, 'dist'), join(away, 'dist'));
      const own = await startServer(away, ['dist/functions/hello-world/main.js'], { FUNCTION: 'hello-world' });
      try {
        expect(await (await fetch(`${own.url}/hello-world`)).json()).toEqual({ message: 'hello from hello-world' });
        expect((await fetch(`${own.url}/pings`)).status).toBe(404);
      } finally {
        await own.stop();
      }
      const all = await startServer(away, ['dist/main.js'], {
        DATABASE_URL: database.url,
        MIGRATIONS_DIR: join(root, 'migrations'),
        DATA_DIR: join(away, '.data'),
      });
      try {
        expect(await (await fetch(`${all.url}/hello-world`)).json()).toEqual({ message: 'hello from hello-world' });
        expect(await (await fetch(`${all.url}/hello-db`)).json()).toEqual({ database: database.name });
        expect((await fetch(`${all.url}/pingpong`)).status).toBe(200);
      } finally {
        await all.stop();
      }
      expect(existsSync(join(away, 'dist/functions/hello-db/main.js'))).toBe(true);
    } finally {
      rmSync(away, { recursive: true, force: true });
    }
  });
});
