import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { allFunctions } from '../functions/index.ts';
import { buildAll, bundleOptions, functionBundle } from '../scripts/build.ts';
import { projectRoot } from './processes.ts';
import type { Runtime } from './runtimes.ts';

export interface BenchBundles {
  /** A function's production bundle, as its container runs it. */
  fn(name: string): string;
  /** Every function in one process, as `npm start` serves them. */
  all: string;
  naive: string;
  /** Hono's hello world on the product's server stack. */
  honoHello: string;
  bare: string;
  /** The product's compile cache, warmed on every runtime as the image warms its own. */
  compileCache: string;
}

/**
 * Builds what the bench runs, product and baselines alike, with the production esbuild options,
 * into .data/bench so a `npm run build` in dist/ is left alone. Running bundles rather than
 * source under tsx measures what a pod starts.
 */
export async function buildBenchBundles(runtimes: readonly Runtime[]): Promise<BenchBundles> {
  const outDir = join(projectRoot, '.data', 'bench');
  const compileCache = join(outDir, 'compile-cache');
  await buildAll(
    allFunctions.map((definition) => definition.name),
    join(outDir, 'dist'),
  );
  await build({
    ...bundleOptions,
    entryPoints: {
      naive: join(projectRoot, 'bench/naive-server.ts'),
      'hono-hello': join(projectRoot, 'bench/hono-hello-server.ts'),
      bare: join(projectRoot, 'bench/bare-server.ts'),
    },
    outdir: join(outDir, 'baselines'),
  });
  for (const runtime of runtimes) warmCompileCache(runtime, join(outDir, 'dist'), compileCache);
  return {
    compileCache,
    fn: (name) => join(outDir, functionBundle(name)),
    all: join(outDir, 'dist', 'main.js'),
    naive: join(outDir, 'baselines', 'naive.js'),
    honoHello: join(outDir, 'baselines', 'hono-hello.js'),
    bare: join(outDir, 'baselines', 'bare.js'),
  };
}

/**
 * Runs dist/warm-compile-cache.js as the Dockerfile does: with a plain `node`, as the Services run,
 * since Node keys its cache by flags (and by uid, the bench's own for both). Node 20 writes nothing.
 */
function warmCompileCache(runtime: Runtime, dist: string, compileCache: string): void {
  const env = { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production', NODE_COMPILE_CACHE: compileCache };
  const warmed = spawnSync(runtime.node, [join(dist, 'warm-compile-cache.js')], { env, encoding: 'utf8' });
  if (warmed.status !== 0) throw new Error(`warming the compile cache on ${runtime.label} failed:\n${warmed.stdout}${warmed.stderr}`);
  if (runtime.id === 'image' && !warmed.stdout.includes('compiled code goes to')) {
    throw new Error(`the image's Node kept no compile cache, so the bench would not start as a pod does:\n${warmed.stdout}`);
  }
}
