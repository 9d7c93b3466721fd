import { settledTries, settleMs } from './cold-start.ts';
import { kilo, markdownTable, percent } from './format.ts';
import { coldStartLabels, loadScenarioLabels, pipelineShapeLabels } from './labels.ts';
import type { BenchReport, PerRuntime, RuntimeId } from './report-data.ts';

type Cell<K, T> = (value: T, id: RuntimeId, key: K) => string;

/** One row per key, one column per runtime: the shape of every table here. */
function byRuntime<K extends string, T>(
  report: BenchReport,
  title: string,
  labels: Record<K, string>,
  data: Record<K, PerRuntime<T>>,
  cell: Cell<K, T>,
  align: 'left' | 'right' = 'right',
): string {
  const keys = Object.keys(labels) as K[];
  return markdownTable(
    [title, ...report.runtimes.map((runtime) => runtime.label)],
    keys.map((key) => [labels[key], ...report.runtimes.map(({ id }) => cell(data[key][id], id, key))]),
    ['left', ...report.runtimes.map(() => align)],
  );
}

function throughput(report: BenchReport): string {
  const { load, plan } = report;
  // pingpong's row carries its share of the Hono hello world: the first goal's ratio.
  return byRuntime(report, `2xx answers/s, median of ${plan.runs}`, loadScenarioLabels, load, (result, id, key) =>
    key === 'pingpong' ? `${kilo(result.rps)} (${percent(result.rps / load.honoHello[id].rps)} of Hono)` : kilo(result.rps),
  );
}

function cost(report: BenchReport): string {
  return byRuntime(
    report,
    'server CPU per request, p99 latency',
    loadScenarioLabels,
    report.load,
    (result) =>
      `${result.cpuMicrosPerRequest.toFixed(0)} µs, ${result.p99Ms.toFixed(1)} ms${result.slow > 0 ? `, ${result.slow} answers after 2 s` : ''}`,
  );
}

function coldStarts(report: BenchReport): string | undefined {
  if (!report.coldStart) return undefined;
  const tries = report.plan.coldStartTries;
  return byRuntime(
    report,
    `cold start (spawn to the first answer after the readiness probe passed), median of ${tries}; RSS 0.3 s, then ${settleMs / 1000} s after it (median of ${settledTries(tries)})`,
    coldStartLabels,
    report.coldStart,
    (result) => `${result.firstOkMs.toFixed(0)} ms; ${result.idleRssMib.toFixed(1)}, ${result.settledRssMib.toFixed(1)} MiB`,
  );
}

function goals(report: BenchReport): string {
  return markdownTable(
    ['goal (same run, same runtime)', ...report.runtimes.map((runtime) => runtime.label)],
    report.goals.map((goal) => [
      goal.goal,
      ...report.runtimes.map(({ id }) => {
        const result = goal.results[id];
        return result === undefined ? 'n/a' : `${result.actual} ${result.pass ? 'pass' : '**fail**'}`;
      }),
    ]),
    ['left', ...report.runtimes.map(() => 'left' as const)],
  );
}

function scaleOut(report: BenchReport): string | undefined {
  const { scaleOut: points } = report;
  if (!points) return undefined;
  const counts = [...new Set(Object.values(points).flatMap((list) => list.map((point) => point.processes)))];
  return markdownTable(
    ['pingpong processes, one database', ...report.runtimes.map((runtime) => runtime.label)],
    counts.map((processes) => [
      String(processes),
      ...report.runtimes.map(({ id }) => {
        const point = points[id].find((each) => each.processes === processes);
        if (!point) return 'n/a';
        const numbers = point.uniqueAndGapFree ? 'unique, gap-free' : `**${point.problem ?? 'broken'}**`;
        return `${kilo(point.rps)} rps, ${point.cpuMicrosPerRequest.toFixed(0)} µs CPU/pong, ${kilo(point.pongs)} pongs ${numbers}`;
      }),
    ]),
    ['right', ...report.runtimes.map(() => 'left' as const)],
  );
}

/** ` (runner 2.10, save 1.20, ...)` in ms, largest first, idle helpers left out; nothing for one process. */
function byProcess(micros: Record<string, number>): string {
  const entries = Object.entries(micros)
    .filter(([, value]) => value >= 5)
    .sort(([, a], [, b]) => b - a);
  if (entries.length < 2) return '';
  return ` (${entries.map(([role, value]) => `${role} ${(value / 1000).toFixed(2)}`).join(', ')})`;
}

function pipeline(report: BenchReport): string | undefined {
  if (!report.pipeline) return undefined;
  return byRuntime(
    report,
    'message pipeline: save -> event -> worker -> PostgreSQL',
    pipelineShapeLabels,
    report.pipeline,
    (result) =>
      [
        `${result.acceptedPerSecond.toFixed(0)} accepted/s`,
        `${result.stored} stored of ${result.accepted}`,
        result.drainMs === null ? 'not all stored' : `last row ${(result.drainMs / 1000).toFixed(1)} s after the last answer`,
        `${(result.cpuMicrosPerSave / 1000).toFixed(2)} ms CPU/save${byProcess(result.cpuMicrosPerSaveByProcess)}`,
        ...(result.refused > 0 ? [`${result.refused} refused`] : []),
        ...(result.slow > 0 ? [`${result.slow} answered after 2 s`] : []),
        ...(result.errors > 0 ? [`**${result.errors} errors**`] : []),
      ].join(', '),
    'left',
  );
}

/**
 * The README's generated part, from one run's results and nothing else (no clock, no machine
 * reads), so bench/report.test.ts can render the committed latest.json and compare.
 */
export function renderReport(report: BenchReport): string {
  const { machine, plan } = report;
  const whose = { host: "the host's", image: "the image's, from bench/runtimes" };
  const runtimes = report.runtimes.map((runtime) => `${runtime.label} (${whose[runtime.id]})`);
  const header = [
    `Run of ${report.at.slice(0, 10)} on ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGib} GiB, ${machine.postgres}; ` +
      'the load generator, the servers and PostgreSQL share the machine.',
    `- Runtimes: ${runtimes.join(' and ')}.`,
    `- Load: ${report.loadGenerator.version} \`${report.loadGenerator.flags}\` (scale-out: a thread per process), ` +
      `${plan.runs} runs per scenario taking turns; a run counts from its first request to its last answer and leaves none unanswered.`,
    '- Every process starts with NODE_ENV=production and without NODE_EXTRA_CA_CERTS, as in the image; the product at its ' +
      'default log level, its stdout a drained pipe.',
  ];
  const parts = [header.join('\n'), throughput(report), cost(report), coldStarts(report), goals(report), scaleOut(report), pipeline(report)];
  return parts.filter((part) => part !== undefined).join('\n\n');
}
