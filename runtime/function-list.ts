import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FunctionDefinition } from './define-function.ts';

/**
 * The folders under `directory` holding an `index.ts`, sorted by name: each is one function.
 * Folders without one (`functions/shared/`) hold code the functions share. Only read from source
 * (`npm start`, tests, scripts): a bundle carries the list the build wrote (scripts/build.ts).
 */
export function functionFolders(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(directory, entry.name, 'index.ts')))
    .map((entry) => entry.name)
    .sort();
}

/**
 * The functions of loaded `functions/<folder>/index.ts` modules, in the given order. Refuses a
 * module without a `defineFunction` default export and a folder named other than its function:
 * the folder name is what `FUNCTION`, the bundle path and the Knative Service go by.
 */
export function collectFunctions(modules: readonly (readonly [folder: string, module: { default?: unknown }])[]): FunctionDefinition[] {
  return modules.map(([folder, module]) => {
    const definition = module.default as Partial<FunctionDefinition> | undefined;
    if (typeof definition?.name !== 'string' || definition.app === undefined || definition.routes === undefined) {
      throw new Error(
        `functions/${folder}/index.ts must default-export defineFunction({ name: '${folder}', description, app }); ` +
          'code shared by functions belongs in a folder without an index.ts (functions/shared/)',
      );
    }
    if (definition.name !== folder) {
      throw new Error(
        `functions/${folder}/index.ts declares the function "${definition.name}": a function's folder is named after it; ` +
          `rename the folder to functions/${definition.name}/ or the name to "${folder}"`,
      );
    }
    return definition as FunctionDefinition;
  });
}
