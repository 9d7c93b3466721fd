import type { DatabaseHandle } from '../db/client.ts';
import { describeCause } from '../db/errors.ts';
import { redact } from './logger.ts';

export type ReadinessResult = { ready: true } | { ready: false; reason: string };

/**
 * Asks the database on each probe (no cached verdict, so it turns ready again by itself as soon as
 * the database is back), but lets concurrent probes share one in-flight check.
 */
export function createReadiness(database: DatabaseHandle | undefined, timeoutMs: number) {
  let inFlight: Promise<ReadinessResult> | undefined;
  const check = async (): Promise<ReadinessResult> => {
    if (!database) return { ready: true };
    try {
      await database.ping(timeoutMs);
      return { ready: true };
    } catch (error) {
      return { ready: false, reason: `database unreachable: ${redact(describeCause(error))}` };
    }
  };
  return {
    check(): Promise<ReadinessResult> {
      inFlight ??= check().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}

export type Readiness = ReturnType<typeof createReadiness>;
