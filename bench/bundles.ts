import { join } from 'node:path';
import { build } from 'esbuild';
import { allFunctions } from '../functions/index.ts';
import { buildAll, bundleOptions, functionBundle } from '../scripts/build.ts';
import { projectRoot } from './processes.ts';

export interface BenchBundles {
  /** A function's production bundle, as its container runs it. */
  fn(name: string): string;
  /** Every function in one process, as `npm start` serves them. */
  all: string;
  naive: string;
  /** Hono's hello world on the product's server stack. */
  honoHello: string;
  bare: string;
}

/**
 * Builds what the bench runs, product and baselines alike, with the production esbuild options,
 * into .data/bench so a `npm run build` in dist/ is left alone. Running bundles rather than
 * source under tsx measures what a pod starts.
 */
export async function buildBenchBundles(): Promise<BenchBundles> {
  const outDir = join(projectRoot, '.data', 'bench');
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
  return {
    fn: (name) => join(outDir, functionBundle(name)),
    all: join(outDir, 'dist', 'main.js'),
    naive: join(outDir, 'baselines', 'naive.js'),
    honoHello: join(outDir, 'baselines', 'hono-hello.js'),
    bare: join(outDir, 'baselines', 'bare.js'),
  };
}
