import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { functionNamePattern } from '../runtime/define-function.ts';

/**
 * `npm run new -- <name> [--database]`: writes functions/<name>/index.ts and index.test.ts. The
 * folder is the whole function: functions/index.ts finds it, the build bundles it, and
 * `npm run manifests` gives it a Knative Service, gateway routes and its README row.
 */
export interface NewFunction {
  name: string;
  /** The handler reads `c.var.db` and its test runs against a throwaway PostgreSQL database. */
  database: boolean;
}

const root = new URL('../', import.meta.url).pathname;

/** Why a name cannot be a new function, or undefined when it can. */
export function nameProblem(name: string, functionsDir = join(root, 'functions'), takenRoutes: readonly string[] = []): string | undefined {
  if (!functionNamePattern.test(name) || name.includes('--')) {
    return `"${name}" is not a function name: kebab-case, 2-40 characters, a letter first (e.g. hello-world)`;
  }
  if (existsSync(join(functionsDir, name))) return `functions/${name}/ exists already: pick another name`;
  if (takenRoutes.includes(`/${name}`)) return `another function already answers /${name}: pick another name`;
  return undefined;
}

/** The files of a new function, path under functions/<name>/ -> content. */
export function newFunctionFiles({ name, database }: NewFunction): Map<string, string> {
  return new Map([
    ['index.ts', database ? databaseHandler(name) : plainHandler(name)],
    ['index.test.ts', database ? databaseTest(name) : plainTest(name)],
  ]);
}

function plainHandler(name: string): string {
  return `import { Hono } from 'hono';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';

export default defineFunction({
  name: '${name}',
  description: 'GET /${name} answers a JSON greeting.',
  // Its readiness then does not wait for the database.
  usesDatabase: false,
  app: new Hono<AppEnv>().get('/${name}', (c) => c.json({ message: 'hello from ${name}' })),
});
`;
}

function databaseHandler(name: string): string {
  return `import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';

export default defineFunction({
  name: '${name}',
  description: 'GET /${name} answers the name of the database it reads, as JSON.',
  app: new Hono<AppEnv>().get('/${name}', async (c) => {
    // c.var.db is the runtime's Drizzle database; with a table in db/schema.ts, write
    // c.var.db.select().from(table) instead of raw SQL. A database outage becomes the runtime's 503.
    const result = (await c.var.db.execute(sql\`select current_database() as name\`)) as unknown as { rows: { name: string }[] };
    return c.json({ database: result.rows[0]?.name });
  }),
});
`;
}

function plainTest(name: string): string {
  return `import { describe, expect, it } from 'vitest';
import { createLogger } from '../../runtime/logger.ts';
import { createMetrics } from '../../runtime/metrics.ts';
import { createReadiness } from '../../runtime/readiness.ts';
import { createServerApp } from '../../runtime/server-app.ts';
import fn from './index.ts';

// The runtime around the function, as npm start serves it; no database, as it declares none.
const app = createServerApp({
  functions: [fn],
  database: undefined,
  log: createLogger({ level: 'silent' }),
  metrics: createMetrics(),
  readiness: createReadiness(undefined, 1000),
});

describe('${name}', () => {
  it('answers GET /${name} with its greeting', async () => {
    const response = await app.request('/${name}');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(await response.json()).toEqual({ message: 'hello from ${name}' });
  });
});
`;
}

function databaseTest(name: string): string {
  return `import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, postgresDatabase } from '../../test/support/app.ts';
import type { TestApp } from '../../test/support/app.ts';
import { createTestDatabase } from '../../test/support/postgres.ts';
import type { TestDatabase } from '../../test/support/postgres.ts';
import fn from './index.ts';

// A throwaway database of its own on the test PostgreSQL, migrated like the product's.
describe('${name} on PostgreSQL', () => {
  let database: TestDatabase;
  let test: TestApp;
  beforeAll(async () => {
    database = await createTestDatabase();
    test = await buildTestApp([fn], postgresDatabase(database.url));
  });
  afterAll(async () => {
    await test?.close();
    await database?.drop();
  });

  it('answers GET /${name} with the name of its database', async () => {
    const response = await test.app.request('/${name}');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ database: database.name });
  });
});
`;
}

/** Writes the new function's folder under `functionsDir`; returns the paths written. */
export function writeNewFunction(options: NewFunction, functionsDir = join(root, 'functions')): string[] {
  const folder = join(functionsDir, options.name);
  mkdirSync(folder);
  const written: string[] = [];
  for (const [file, content] of newFunctionFiles(options)) {
    writeFileSync(join(folder, file), content, { flag: 'wx' });
    written.push(join('functions', options.name, file));
  }
  return written;
}

export function nextSteps(name: string): string {
  return [
    '',
    'next:',
    `  npx vitest run functions/${name}    # its test`,
    '  npm run manifests                   # its Knative Service, gateway route and README row',
    '  npm start                           # serves it beside every other function',
    `  curl localhost:8080/${name}`,
    '',
  ].join('\n');
}

const usage = 'usage: npm run new -- <name> [--database]';

async function main(argv: readonly string[]): Promise<number> {
  const flags = argv.filter((arg) => arg.startsWith('-'));
  const names = argv.filter((arg) => !arg.startsWith('-'));
  const unknown = flags.filter((flag) => flag !== '--database');
  if (names.length !== 1 || unknown.length > 0) {
    process.stderr.write(`${unknown.length > 0 ? `unknown option ${unknown.join(', ')}\n` : ''}${usage}\n`);
    return 2;
  }
  const name = names[0] ?? '';
  // Checked before loading the functions, so a bad name is refused even while another is broken.
  let problem = nameProblem(name);
  if (problem === undefined) {
    const { allFunctions } = await import('../functions/index.ts');
    problem = nameProblem(name, undefined, allFunctions.flatMap((definition) => definition.routes));
  }
  if (problem !== undefined) {
    process.stderr.write(`npm run new: ${problem}\n`);
    return 1;
  }
  const written = writeNewFunction({ name, database: flags.includes('--database') });
  process.stdout.write(`wrote ${written.join(' and ')}\n${nextSteps(name)}`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Function modules may hold timers or pools once loaded; the scaffold has nothing left to do.
  process.exit(await main(process.argv.slice(2)));
}
