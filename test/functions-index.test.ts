import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { functionFolders } from '../runtime/function-list.ts';

describe('functions/index.ts', () => {
  it('holds one function per folder with an index.ts, in name order, and none for functions/shared/', () => {
    const folders = functionFolders(fileURLToPath(new URL('../functions/', import.meta.url)));
    expect(allFunctions.map(({ name }) => name)).toEqual(folders);
    expect(folders).not.toContain('shared');
    expect(folders).toContain('pingpong');
  });
});
