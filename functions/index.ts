import { fileURLToPath } from 'node:url';
import type { FunctionDefinition } from '../runtime/define-function.ts';
import { collectFunctions, functionFolders } from '../runtime/function-list.ts';

/**
 * Every function of the project: each folder here with an `index.ts`, in name order. The local
 * runner, bundles, manifests, gateway routes and the README's endpoint table are derived from this
 * list, so adding a function is adding its folder. Bundles never run this scan: scripts/build.ts
 * replaces this module with a static import of each function (or of the bundle's one function).
 */
const folders = functionFolders(fileURLToPath(new URL('./', import.meta.url)));

export const allFunctions: readonly FunctionDefinition[] = collectFunctions(
  await Promise.all(folders.map(async (folder) => [folder, (await import(`./${folder}/index.ts`)) as { default?: unknown }] as const)),
);
