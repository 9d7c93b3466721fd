import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kilo } from './format.ts';
import { evaluateGoals } from './goals.ts';
import { generatedPart, readLatest, readmeDrift, readmePath } from './readme.ts';

const readme = readFileSync(readmePath, 'utf8');
const latest = readLatest();

describe("the README's benchmark figures", () => {
  it('are what bench/report.ts renders of the committed bench/results/latest.json', () => {
    expect(readmeDrift(readme, latest)).toBeUndefined();
  });

  it('stop agreeing when a figure is edited by hand', () => {
    const figure = kilo(latest.load.bare.host.rps);
    const line = generatedPart(readme)
      .split('\n')
      .find((each) => each.startsWith('| bare node:http hello') && each.includes(figure));
    if (line === undefined) throw new Error(`the throughput table has no row for the bare hello with ${figure}`);
    const edited = readme.replace(line, line.replace(figure, figure === '99.9k' ? '11.1k' : '99.9k'));

    expect(readmeDrift(edited, latest)).toMatch(/^README\.md's benchmark part, line \d+: has "\| bare node:http hello .*(99\.9k|11\.1k)/);
  });

  it('carry the goals their own figures give, so a figure edited in latest.json shows', () => {
    const { goals, ...measured } = latest;
    expect(goals).toEqual(evaluateGoals(measured));
  });
});
