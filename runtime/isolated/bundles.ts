import { join, resolve } from 'node:path';

type BuildScript = typeof import('../../scripts/build.ts');

/**
 * Builds every function's production bundle (the same esbuild step as `npm run build`) under
 * `<dataDir>/isolated`, so what runs is never stale and a concurrent `npm run build` into dist/ is
 * not clobbered. Returns each function's bundle path.
 */
export async function buildBundles(names: readonly string[], dataDir: string): Promise<Map<string, string>> {
  // A computed specifier: runtime/main.ts (and so every function bundle) imports this module, and
  // a literal one would make esbuild pull the build script and esbuild itself into those bundles.
  const script = new URL('../../scripts/build.ts', import.meta.url).href;
  const { buildAll, functionBundle } = (await import(script)) as BuildScript;
  const base = resolve(dataDir, 'isolated');
  await buildAll(names, join(base, 'dist'));
  return new Map(names.map((name) => [name, join(base, functionBundle(name))]));
}
