import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { functionFolders } from '../runtime/function-list.ts';

/** Where a function's own bundle lands; its Knative Service runs `node <this>`. */
export function functionBundle(name: string): string {
  return `dist/functions/${name}/main.js`;
}

/** A function's container command. */
export function functionCommand(name: string): string[] {
  return ['node', functionBundle(name)];
}

const root = new URL('../', import.meta.url).pathname;

/** The options every bundle shares; the benchmark builds its baseline servers with them too. */
export const bundleOptions: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Keeps the PGlite path (a dynamic import, unused in the cluster) out of the start-up graph.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  legalComments: 'none',
  // Smaller to parse on every cold start (about 40 ms less here); the linked source maps keep
  // stack traces readable with --enable-source-maps.
  minify: true,
  logLevel: 'warning',
  // PGlite loads its wasm next to its own files; the image copies the package instead.
  external: ['@electric-sql/pglite', 'bufferutil', 'utf-8-validate', 'pg-native'],
  // CommonJS dependencies (prom-client, ws) call require() for Node built-ins.
  banner: { js: "import { createRequire as __knfnCreateRequire } from 'node:module'; const require = __knfnCreateRequire(import.meta.url);" },
};

const functionsIndex = join(root, 'functions', 'index.ts');

/**
 * Replaces functions/index.ts, which finds the functions by reading its folder, with a static
 * import of each named function: a bundle runs where functions/ does not exist, and a function's
 * own bundle carries its code and the runtime, not every other function's.
 */
function functionList(names: readonly string[]): Plugin {
  const imports = names.map((name, index) => `import * as f${index} from './functions/${name}/index.ts';`);
  const entries = names.map((name, index) => `[${JSON.stringify(name)}, f${index}]`);
  const contents = [
    "import { collectFunctions } from './runtime/function-list.ts';",
    ...imports,
    `export const allFunctions = collectFunctions([${entries.join(', ')}]);`,
    '',
  ].join('\n');
  return {
    name: 'function-list',
    setup(plugin) {
      plugin.onResolve({ filter: /(^|\/)index\.ts$/ }, (args) =>
        resolve(args.resolveDir, args.path) === functionsIndex ? { path: 'functions', namespace: 'function-list' } : undefined,
      );
      plugin.onLoad({ filter: /.*/, namespace: 'function-list' }, () => ({ contents, resolveDir: root, loader: 'ts' }));
    },
  };
}

export interface BuildVariant {
  /**
   * Test builds only: every Nth request of every function answers 500, so a canary analysis can
   * be shown to fail. Production builds never set it, and minification drops the code.
   */
  failEvery?: number;
}

/** Bundles dist/main.js (every function), dist/migrate.js, dist/warm-compile-cache.js and one bundle per function. */
export async function buildAll(names: readonly string[], outDir = join(root, 'dist'), variant: BuildVariant = {}): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  const options: BuildOptions = {
    ...bundleOptions,
    define: { KNFN_FAIL_EVERY: variant.failEvery === undefined ? 'undefined' : String(variant.failEvery) },
  };
  await Promise.all([
    build({
      ...options,
      entryPoints: {
        main: join(root, 'runtime/main.ts'),
        migrate: join(root, 'runtime/migrate.ts'),
        'warm-compile-cache': join(root, 'scripts/warm-compile-cache.ts'),
      },
      outdir: outDir,
      // Every function, whichever ones `names` lists: dist/main.js is what `npm start` serves.
      plugins: [functionList(functionFolders(join(root, 'functions')))],
    }),
    ...names.map((name) =>
      build({
        ...options,
        entryPoints: { main: join(root, 'runtime/main.ts') },
        outdir: join(outDir, 'functions', name),
        plugins: [functionList([name])],
      }),
    ),
  ]);
  // The image has no package.json above dist/: without this one, Node would first parse every
  // bundle and chunk as CommonJS, fail, and parse it again as an ES module, on every cold start.
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { allFunctions } = await import('../functions/index.ts');
  const names = allFunctions.map((definition) => definition.name);
  await buildAll(names);
  process.stdout.write(`built dist/main.js, dist/migrate.js, dist/warm-compile-cache.js and ${names.length} function bundles\n`);
  process.exit(0);
}
