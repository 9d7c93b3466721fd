import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as nodeModule from 'node:module';

/**
 * Every chunk under `dist`: the code each bundle's entry loads, statically or on demand. The
 * entries themselves (main.js, migrate.js) are left out: importing one starts it.
 */
export function bundleChunks(dist: string): string[] {
  const chunks: string[] = [];
  const walk = (folder: string, inChunks: boolean) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path, entry.name === 'chunks');
      else if (inChunks && entry.name.endsWith('.js')) chunks.push(path);
    }
  };
  walk(dist, false);
  return chunks.sort();
}

/**
 * Built as dist/warm-compile-cache.js and run once in the image, with NODE_COMPILE_CACHE set, as
 * the user and with the Node flags (none) the Services run with (Node keys its cache by both): it
 * imports every chunk, so Node 22 writes V8's compiled code for each to the cache when it exits,
 * and a cold start reads that instead of compiling the chunks again. Node 20 has no compile cache;
 * there the imports only prove that every chunk loads.
 */
async function warm(dist: string): Promise<void> {
  const chunks = bundleChunks(dist);
  for (const chunk of chunks) await import(pathToFileURL(chunk).href);
  // Absent before Node 22.8; undefined when NODE_COMPILE_CACHE is unset.
  const cacheDir = (nodeModule as { getCompileCacheDir?: () => string | undefined }).getCompileCacheDir?.();
  process.stdout.write(
    cacheDir === undefined
      ? `loaded ${chunks.length} chunks; this Node keeps no compile cache (NODE_COMPILE_CACHE unset or unsupported)\n`
      : `loaded ${chunks.length} chunks; their compiled code goes to ${cacheDir}\n`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Node writes the cache as the process exits.
  await warm(dirname(fileURLToPath(import.meta.url)));
}
