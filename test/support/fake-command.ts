import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One answer of a fake command: what it prints, its exit status, and a file it writes. */
export interface FakeAnswer {
  stdout?: string;
  stderr?: string;
  status?: number;
  /** Writes `content` to the path given after `flag` (`push --digestfile <path>`). */
  writeFile?: { flag: string; content: string };
}

/** Calls whose arguments, joined by spaces, match `match` get `answers` in turn; the last repeats. */
export interface FakeRule {
  match: RegExp;
  answers: FakeAnswer[];
}

export interface FakeCommands {
  /** The directory to put first on PATH. */
  dir: string;
  /** Every call so far of `name`, in order, as its arguments. */
  calls(name: string): string[][];
  remove(): void;
}

/**
 * Executables standing in for kubectl, docker, podman...: each records its arguments and answers
 * from its table, first matching rule first; a call no rule matches exits 97, so an unexpected
 * command shows up as a failure instead of passing silently.
 */
export function fakeCommands(tables: Record<string, FakeRule[]>): FakeCommands {
  const dir = mkdtempSync(join(tmpdir(), 'knfn-fake-'));
  for (const [name, rules] of Object.entries(tables)) {
    const table = rules.map(({ match, answers }) => ({ match: match.source, answers }));
    writeFileSync(join(dir, `${name}.rules.json`), JSON.stringify(table));
    writeFileSync(join(dir, name), script(dir, name));
    chmodSync(join(dir, name), 0o755);
  }
  return {
    dir,
    calls: (name) => {
      let text = '';
      try {
        text = readFileSync(join(dir, `${name}.calls`), 'utf8');
      } catch {
        return [];
      }
      return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as string[]);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function script(dir: string, name: string): string {
  const base = JSON.stringify(join(dir, name));
  return `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(${base} + '.calls', JSON.stringify(args) + '\\n');
const rules = JSON.parse(fs.readFileSync(${base} + '.rules.json', 'utf8'));
const index = rules.findIndex((rule) => new RegExp(rule.match).test(args.join(' ')));
if (index < 0) {
  process.stderr.write('fake ${name}: no answer for ' + args.join(' ') + '\\n');
  process.exit(97);
}
let counts = {};
try { counts = JSON.parse(fs.readFileSync(${base} + '.counts.json', 'utf8')); } catch {}
const seen = counts[index] ?? 0;
counts[index] = seen + 1;
fs.writeFileSync(${base} + '.counts.json', JSON.stringify(counts));
const answers = rules[index].answers;
const answer = answers[Math.min(seen, answers.length - 1)];
if (answer.writeFile) fs.writeFileSync(args[args.indexOf(answer.writeFile.flag) + 1], answer.writeFile.content);
process.stdout.write(answer.stdout ?? '');
process.stderr.write(answer.stderr ?? '');
process.exit(answer.status ?? 0);
`;
}
