import { settleMs } from './cold-start.ts';
import { kilo, multiple, percent } from './format.ts';
import type { BenchReport, Goal, GoalResult, RuntimeId } from './report-data.ts';

type Measured = Omit<BenchReport, 'goals'>;

function perRuntime(report: Measured, evaluate: (runtime: RuntimeId) => GoalResult | undefined): Goal['results'] {
  const results: Goal['results'] = {};
  for (const { id } of report.runtimes) {
    const result = evaluate(id);
    if (result !== undefined) results[id] = result;
  }
  return results;
}

/** At most `limit` times `base` (a smaller cold start or RSS is better). */
function atMost(value: number, base: number, limit: number, unit: string, digits: number): GoalResult {
  return {
    actual: `${multiple(value / base)} (${value.toFixed(digits)} vs ${base.toFixed(digits)} ${unit})`,
    pass: value <= limit * base,
  };
}

/**
 * Issue 14's goals, each a ratio of two figures of the same run on the same runtime (so a busy
 * machine moves both sides), plus the earlier issue's "3x the naive baseline".
 */
export function evaluateGoals(report: Measured): Goal[] {
  const { load, coldStart, pipeline, scaleOut } = report;
  const goals: Goal[] = [
    {
      goal: '`/pingpong` >= 50% of Hono hello',
      results: perRuntime(report, (id) => {
        const share = load.pingpong[id].rps / load.honoHello[id].rps;
        return { actual: `${percent(share)} (${kilo(load.pingpong[id].rps)} / ${kilo(load.honoHello[id].rps)})`, pass: share >= 0.5 };
      }),
    },
    {
      goal: 'no errors in any scenario; `/pingpong` counter == 2xx answers',
      results: perRuntime(report, (id) => {
        const errors = Object.values(load).reduce((sum, result) => sum + result[id].errors, 0);
        const mismatch = load.pingpong[id].counterMismatch ?? 0;
        return { actual: `${errors} errors, counter - 2xx = ${mismatch}`, pass: errors === 0 && mismatch === 0 };
      }),
    },
    {
      goal: '`/pingpong` >= 3x naive (earlier goal)',
      results: perRuntime(report, (id) => {
        const ratio = load.pingpong[id].rps / load.naive[id].rps;
        return { actual: multiple(ratio), pass: ratio >= 3 };
      }),
    },
  ];
  if (coldStart) {
    const { pingpong, bare, peerHello } = coldStart;
    goals.push(
      {
        goal: 'cold start to first committed pong <= 1.5x bare',
        results: perRuntime(report, (id) => atMost(pingpong[id].firstOkMs, bare[id].firstOkMs, 1.5, 'ms', 0)),
      },
      // Issue 14 read RSS right after the first request; both readings are kept, as neither alone
      // says what a pod costs: one includes start-up's garbage, the other is where it sits idle.
      {
        goal: 'RSS 0.3 s after the first answer <= 1.3x bare',
        results: perRuntime(report, (id) => atMost(pingpong[id].idleRssMib, bare[id].idleRssMib, 1.3, 'MiB', 1)),
      },
      {
        goal: `idle RSS, settled ${settleMs / 1000} s after the first answer, <= 1.3x bare`,
        results: perRuntime(report, (id) => atMost(pingpong[id].settledRssMib, bare[id].settledRssMib, 1.3, 'MiB', 1)),
      },
      {
        goal: 'cold start <= faas-js-runtime hello',
        results: perRuntime(report, (id) => atMost(pingpong[id].firstOkMs, peerHello[id].firstOkMs, 1, 'ms', 0)),
      },
      {
        goal: 'RSS 0.3 s after the first answer <= faas-js-runtime hello',
        results: perRuntime(report, (id) => atMost(pingpong[id].idleRssMib, peerHello[id].idleRssMib, 1, 'MiB', 1)),
      },
      {
        goal: `idle RSS, settled ${settleMs / 1000} s after the first answer, <= faas-js-runtime hello`,
        results: perRuntime(report, (id) => atMost(pingpong[id].settledRssMib, peerHello[id].settledRssMib, 1, 'MiB', 1)),
      },
    );
  }
  goals.push({
    goal: '`/health` rps >= faas-js-runtime hello',
    results: perRuntime(report, (id) => {
      const ratio = load.productHealth[id].rps / load.peerHello[id].rps;
      return { actual: `${multiple(ratio)} (${kilo(load.productHealth[id].rps)} / ${kilo(load.peerHello[id].rps)})`, pass: ratio >= 1 };
    }),
  });
  if (pipeline) {
    for (const [shape, title] of [
      ['oneProcess', '`npm start` shape'],
      ['gateway', 'gateway topology'],
    ] as const) {
      goals.push({
        goal: `pipeline, ${title}: >= 1000 accepted saves/s, each stored once`,
        results: perRuntime(report, (id) => {
          const result = pipeline[shape][id];
          return {
            actual: `${result.acceptedPerSecond.toFixed(0)}/s, ${result.stored} stored of ${result.accepted}`,
            pass: result.acceptedPerSecond >= 1000 && result.stored === result.accepted && result.errors === 0,
          };
        }),
      });
    }
  }
  if (scaleOut) {
    goals.push({
      goal: 'scale-out: pong numbers unique and gap-free across processes',
      results: perRuntime(report, (id) => {
        const broken = scaleOut[id].find((point) => !point.uniqueAndGapFree);
        const counts = scaleOut[id].map((point) => point.processes).join(', ');
        return broken
          ? { actual: `${broken.processes} processes: ${broken.problem ?? 'broken'}`, pass: false }
          : { actual: `yes at ${counts} processes`, pass: true };
      }),
    });
  }
  return goals;
}
