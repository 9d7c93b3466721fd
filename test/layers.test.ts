import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

function sourceFiles(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(folder, file));
}

/** Every module a file names: `import ... from`, `export ... from`, `import('...')`, `typeof import('...')`. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((match) => match[1] ?? '');
  return specifiers
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => relative(root, resolve(root, dirname(file), specifier)));
}

/** `file -> imported` for every import of a file under `from` that lands under `to`. */
function crossings(from: string, to: string, allowed: readonly string[] = []): string[] {
  return sourceFiles(from)
    .filter((file) => !allowed.includes(file))
    .flatMap((file) => importsOf(file).filter((target) => target.startsWith(`${to}/`)).map((target) => `${file} -> ${target}`));
}

// ARCHITECTURE.md: arrows point down only. functions/ use runtime/ and db/; runtime/ uses db/; db/
// takes its settings as its own types (db/settings.ts) and uses neither, its tests included. Only
// the process entry, runtime/main.ts, composes the list of functions with the runtime; the
// --isolated runner gets the list from it. A test beside runtime code sits above both like the
// entry (it may mount a real function), so runtime/*.test.ts is not held to the rule.
// runtime/isolated/ loads scripts/ (build, manifests, gateway) at run time by URL, never statically.
describe('layers', () => {
  it('reads the imports it checks', () => {
    expect(importsOf('runtime/main.ts')).toContain('functions/index.ts');
    expect(importsOf('db/client.ts')).toEqual(expect.arrayContaining(['db/pglite.ts', 'db/neon.ts', 'db/settings.ts']));
  });

  it('keeps db/ free of runtime/, functions/ and scripts/ (tests included)', () => {
    expect([...crossings('db', 'runtime'), ...crossings('db', 'functions'), ...crossings('db', 'scripts')]).toEqual([]);
  });

  it('keeps runtime/ free of functions/, except the process entry runtime/main.ts', () => {
    const tests = sourceFiles('runtime').filter((file) => file.endsWith('.test.ts'));
    expect(crossings('runtime', 'functions', ['runtime/main.ts', ...tests])).toEqual([]);
  });
});
