import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'vitest';

const run = promisify(execFile);
const readme = new URL('../../README.md', import.meta.url);

/** One `curl` line of the README's examples, and the answer its `# → ...` comment documents. */
export interface ReadmeExample {
  command: string;
  /** Undefined where the comment documents no answer: any 2xx then. */
  answer: { status: number | undefined; body: RegExp; text: string } | undefined;
}

export interface ExampleResult {
  status: number;
  body: string;
}

/**
 * The curl examples of the README's endpoint section, in order, continuation lines joined. An
 * answer reads `# → [status] body`, where `...` and `<words>` stand for any text on one line and
 * `\n` for a line break.
 */
export function readmeCurlExamples(): ReadmeExample[] {
  const text = readFileSync(readme, 'utf8');
  const block = /```sh\n(curl localhost:8080\/pingpong[\s\S]*?)```/.exec(text)?.[1];
  if (block === undefined) throw new Error('README.md has no curl example block starting with curl localhost:8080/pingpong');
  const commands = block.replace(/\\\n\s*/g, '').split('\n').filter((line) => line.startsWith('curl '));
  return commands.map((line) => {
    const [command = '', comment] = line.split(/\s+#\s+/, 2);
    return { command: command.trim(), answer: comment?.startsWith('→ ') ? documentedAnswer(comment.slice(2)) : undefined };
  });
}

function documentedAnswer(text: string): NonNullable<ReadmeExample['answer']> {
  const match = /^(\d{3}) (.*)$/.exec(text);
  const body = match?.[2] ?? text;
  const pattern = body
    .split(/(\.\.\.|<[^>]+>|\\n)/)
    .map((part) => {
      if (part === '...' || /^<[^>]+>$/.test(part)) return '[^\\n]+?';
      if (part === '\\n') return '\\n';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return { status: match?.[1] === undefined ? undefined : Number(match[1]), body: new RegExp(`^${pattern}$`), text };
}

/** Runs one example with real curl against `base` (e.g. `127.0.0.1:40123`) instead of localhost:8080. */
export async function runExample(example: ReadmeExample, base: string): Promise<ExampleResult> {
  const command = example.command.replaceAll('localhost:8080', base).replace(/^curl /, "curl -sS --max-time 30 -w '\\n%{http_code}' ");
  const { stdout } = await run('bash', ['-c', command], { encoding: 'utf8' });
  const split = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(split + 1)), body: stdout.slice(0, split) };
}

/** Runs the README's curl examples in order against `base`, expecting each documented answer. */
export async function expectReadmeExamplesToHold(base: string): Promise<void> {
  const examples = readmeCurlExamples();
  expect(examples.length).toBeGreaterThanOrEqual(14);
  for (const example of examples) {
    const result = await runExample(example, base);
    expectDocumentedAnswer(example, result);
  }
}

function expectDocumentedAnswer(example: ReadmeExample, result: { status: number; body: string }): void {
  const what = `${example.command} answered ${result.status} ${result.body}`;
  if (example.answer === undefined) {
    expect(result.status, what).toBeGreaterThanOrEqual(200);
    expect(result.status, what).toBeLessThan(300);
    return;
  }
  if (example.answer.status !== undefined) expect(result.status, what).toBe(example.answer.status);
  else expect(result.status, what).toBe(200);
  expect(result.body, `${what}; documented: ${example.answer.text}`).toMatch(example.answer.body);
}
