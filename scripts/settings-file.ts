import { readFileSync } from 'node:fs';
import type { z } from 'zod';

/** Parses settings with `schema`, refusing a bad value with one line per wrong field. */
export function parseSettings<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  throw new Error(`${source} is invalid:\n${problems.join('\n')}`);
}

/**
 * Reads a JSON settings file people edit (knative/gateway/settings.json, ...), naming the file in
 * every refusal. A missing file is an error unless `whenMissing` gives the settings to use instead.
 */
export function readSettingsFile<S extends z.ZodType>(
  schema: S,
  path: string | URL,
  source: string,
  whenMissing?: () => z.output<S>,
): z.output<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (whenMissing && (error as NodeJS.ErrnoException).code === 'ENOENT') return whenMissing();
    throw new Error(`${source} could not be read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source} is not JSON: ${(error as Error).message}`);
  }
  return parseSettings(schema, json, source);
}
