/** What one `npm run bench` measures and for how long; read from BENCH_* variables. */
export interface Plan {
  /** BENCH_QUICK=1: a smoke run of every part with short durations; it leaves the README alone. */
  quick: boolean;
  connections: number;
  threads: number;
  seconds: number;
  runs: number;
  /** Each server's warm-up before its first measured run (JIT, pools, a function's cold start). */
  warmupSeconds: number;
  coldStartTries: number;
  coldStart: boolean;
  pipeline: boolean;
  scaleOut: number[];
}

export class PlanError extends Error {}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new PlanError(`${name}=${raw}: must be a positive whole number`);
  return value;
}

function enabled(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === 'true') return true;
  if (raw === 'false') return false;
  throw new PlanError(`${name}=${raw}: must be true or false`);
}

/**
 * The default plan takes about 11 minutes on 2 CPUs: 6 load scenarios on 2 runtimes, 3 runs of
 * 8 s each, plus cold starts (and 45 s of idling for the settled RSS), the message pipeline in two
 * shapes and the scale-out curve.
 */
export function readPlan(env: NodeJS.ProcessEnv = process.env): Plan {
  const quick = env['BENCH_QUICK'] === '1' || env['BENCH_QUICK'] === 'true';
  const connections = positiveInt(env, 'BENCH_CONNECTIONS', 64);
  const threads = 2;
  // The scale-out point of 4 processes runs wrk -t4, and wrk wants a connection per thread.
  if (connections < 4) throw new PlanError(`BENCH_CONNECTIONS=${connections}: needs at least 4`);
  return {
    quick,
    connections,
    threads,
    seconds: positiveInt(env, 'BENCH_SECONDS', quick ? 2 : 8),
    runs: positiveInt(env, 'BENCH_RUNS', quick ? 1 : 3),
    warmupSeconds: quick ? 1 : 2,
    coldStartTries: positiveInt(env, 'BENCH_COLD_START_TRIES', quick ? 2 : 5),
    coldStart: enabled(env, 'BENCH_COLD_START'),
    pipeline: enabled(env, 'BENCH_PIPELINE'),
    scaleOut: enabled(env, 'BENCH_SCALE_OUT') ? [1, 2, 4] : [],
  };
}

/** Only a run of every part at full length replaces the committed figures. */
export function isFullRun(plan: Plan): boolean {
  return !plan.quick && plan.coldStart && plan.pipeline && plan.scaleOut.length > 0;
}
