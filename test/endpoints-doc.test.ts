import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { defineFunction } from '../runtime/define-function.ts';
import type { AppEnv } from '../runtime/define-function.ts';
import { endpointsBegin, endpointsEnd, renderEndpointTable, withEndpointTable } from '../scripts/endpoints-doc.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe("the README's endpoint table", () => {
  it('is the one generated from the function declarations (run npm run manifests)', () => {
    expect(readme).toBe(withEndpointTable(readme, allFunctions));
    expect(readme).toContain(`${endpointsBegin}\n${renderEndpointTable(allFunctions)}\n${endpointsEnd}`);
  });

  it("lists every method of every function's app, public functions before internal ones", () => {
    const table = renderEndpointTable(allFunctions);
    expect(table).toContain('| locations | `GET`/`PUT`/`PATCH`/`DELETE /api/locations/:name` |');
    expect(table).toContain('| save | `POST /save` |');
    expect(table.indexOf('| time |')).toBeLessThan(table.indexOf('| message-worker (internal) |'));
    expect(table.indexOf('| message-worker (internal) |')).toBeLessThan(table.indexOf('| (runtime) | `GET /metrics` |'));
    for (const definition of allFunctions) {
      for (const path of definition.routes) expect(table, `${definition.name} ${path}`).toMatch(new RegExp(`\\| ${definition.name}( \\(internal\\))? \\| [^|]*${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    }
  });

  it('gives a function without docs one row per path, its methods from the app, answering its description', () => {
    const echo = defineFunction({
      name: 'echo',
      description: 'echoes | pipes',
      app: new Hono<AppEnv>().get('/echo', (c) => c.text('e')).post('/echo', (c) => c.text('e')).get('/echo/:id', (c) => c.text('e')),
    });
    const rows = renderEndpointTable([echo]).split('\n').slice(2, 4);
    expect(rows).toEqual(['| echo | `GET`/`POST /echo` | echoes \\| pipes |', '| echo | `GET /echo/:id` | echoes \\| pipes |']);
  });

  it('refuses a README without the markers', () => {
    expect(() => withEndpointTable('# no table\n', allFunctions)).toThrow(/README\.md has no endpoint table between/);
  });
});
