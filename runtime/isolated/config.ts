import { z } from 'zod';
import { ConfigError } from '../config.ts';

const milliseconds = (max: number) => z.coerce.number().int().min(1).max(max);

const isolatedSchema = z.object({
  ISOLATED_IDLE_MS: milliseconds(86_400_000).default(60_000),
  ISOLATED_START_TIMEOUT_MS: milliseconds(600_000).default(10_000),
});

export interface IsolatedConfig {
  /** How long a function's process lives without a request before it is stopped (scale to zero). */
  idleMs: number;
  /** How long a cold start may take before its waiting requests get 503. */
  startTimeoutMs: number;
}

/** A start-up problem worth one plain line rather than the list `ConfigError` prints. */
export class IsolatedConfigError extends ConfigError {
  constructor(message: string) {
    super([message]);
    this.message = message;
  }
}

/** The isolated runner's own settings; everything else comes from `loadConfig`. */
export function loadIsolatedConfig(env: Record<string, string | undefined>): IsolatedConfig {
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = isolatedSchema.safeParse(set);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  return { idleMs: parsed.data.ISOLATED_IDLE_MS, startTimeoutMs: parsed.data.ISOLATED_START_TIMEOUT_MS };
}
