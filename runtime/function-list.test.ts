import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { defineFunction } from './define-function.ts';
import type { AppEnv } from './define-function.ts';
import { collectFunctions, functionFolders } from './function-list.ts';

const hello = defineFunction({ name: 'hello', description: 'greets', app: new Hono<AppEnv>().get('/hello', (c) => c.text('hi')) });

describe('functionFolders', () => {
  it('lists the folders holding an index.ts, in name order, and skips the others', () => {
    const directory = mkdtempSync(join(tmpdir(), 'knfn-functions-'));
    try {
      for (const name of ['zeta', 'alpha', 'shared', 'mid-dle']) mkdirSync(join(directory, name));
      for (const name of ['zeta', 'alpha', 'mid-dle']) writeFileSync(join(directory, name, 'index.ts'), '');
      writeFileSync(join(directory, 'shared', 'time-zone.ts'), '');
      writeFileSync(join(directory, 'index.ts'), '');
      expect(functionFolders(directory)).toEqual(['alpha', 'mid-dle', 'zeta']);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('collectFunctions', () => {
  it('refuses a folder named other than its function, saying which to rename', () => {
    expect(() => collectFunctions([['greeter', { default: hello }]])).toThrow(
      'functions/greeter/index.ts declares the function "hello": a function\'s folder is named after it; rename the folder to functions/hello/ or the name to "greeter"',
    );
  });

  it('refuses an index.ts without a defineFunction default export', () => {
    expect(() => collectFunctions([['helpers', { default: undefined }]])).toThrow(
      "functions/helpers/index.ts must default-export defineFunction({ name: 'helpers', description, app })",
    );
    expect(() => collectFunctions([['raw', { default: new Hono() }]])).toThrow(/functions\/raw\/index\.ts must default-export/);
  });

  it('keeps the given order', () => {
    const other = defineFunction({ name: 'other', description: 'o', app: new Hono<AppEnv>().get('/other', (c) => c.text('o')) });
    expect(collectFunctions([['other', { default: other }], ['hello', { default: hello }]]).map(({ name }) => name)).toEqual(['other', 'hello']);
  });
});
