import type { LogFields, Logger } from '../logger.ts';

/**
 * A warning logged at most once per `everyMs` for each kind: while Redis is down every request
 * would otherwise add a line. The next line says how many were left out since the last one.
 */
export function throttledWarning(log: Logger, everyMs: number, now: () => number = Date.now) {
  const kinds = new Map<string, { loggedAt: number; suppressed: number }>();
  return function warn(kind: string, message: string, fields: LogFields = {}): void {
    const state = kinds.get(kind);
    const at = now();
    if (state !== undefined && at - state.loggedAt < everyMs) {
      state.suppressed++;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    kinds.set(kind, { loggedAt: at, suppressed: 0 });
    log.warn(message, suppressed > 0 ? { ...fields, suppressed } : fields);
  };
}
