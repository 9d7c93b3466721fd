import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBenchBundles } from './bundles.ts';
import { measureColdStarts, settledTries, settleMs } from './cold-start.ts';
import { evaluateGoals } from './goals.ts';
import { coldStartLabels, loadScenarioLabels, pipelineShapeLabels } from './labels.ts';
import type { LoadScenarioId, PipelineShapeId } from './labels.ts';
import { describeMachine } from './machine.ts';
import { measurePipeline } from './pipeline.ts';
import type { PipelineResult } from './pipeline.ts';
import { isFullRun, PlanError, readPlan } from './plan.ts';
import type { Plan } from './plan.ts';
import { projectRoot } from './processes.ts';
import { latestPath, rewriteReadme, writeLatest } from './readme.ts';
import type { BenchReport, PerRuntime } from './report-data.ts';
import { renderReport } from './report.ts';
import { ensureRuntimes } from './runtimes.ts';
import type { Runtime } from './runtimes.ts';
import { measureScaleOut } from './scale-out.ts';
import type { ScaleOutPoint } from './scale-out.ts';
import { loadScenarios, prepareScenario } from './scenarios.ts';
import type { LoadResult, RunningScenario } from './scenarios.ts';
import { wrkBinary, wrkFlags, wrkInstalled, wrkVersion } from './wrk.ts';

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

function refuse(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

let plan: Plan;
try {
  plan = readPlan();
} catch (error) {
  if (error instanceof PlanError) refuse(error.message);
  throw error;
}
if (!wrkInstalled()) refuse(`needs wrk (${wrkBinary}): apt-get install wrk`);
const runtimes = ensureRuntimes();
say(`building the production bundles (${runtimes.map((runtime) => runtime.label).join(', ')})`);
const bundles = await buildBenchBundles(runtimes);
const machine = await describeMachine();

function perRuntime<T>(measure: (runtime: Runtime) => T): PerRuntime<T> {
  return Object.fromEntries(runtimes.map((runtime) => [runtime.id, measure(runtime)])) as PerRuntime<T>;
}

// Load: every scenario on every runtime is up at once, and they take turns run by run, so drift
// in a shared machine's load hits all of them alike instead of whichever ran last.
const scenarioIds = Object.keys(loadScenarioLabels) as LoadScenarioId[];
const running = new Map<string, RunningScenario>();
let load: Record<LoadScenarioId, PerRuntime<LoadResult>>;
try {
  for (const id of scenarioIds) {
    for (const runtime of runtimes) {
      say(`starting and warming up ${loadScenarioLabels[id]} on ${runtime.label}`);
      running.set(`${id} ${runtime.id}`, await prepareScenario(loadScenarios[id], runtime, bundles, plan));
    }
  }
  for (let i = 1; i <= plan.runs; i += 1) {
    for (const id of scenarioIds) {
      for (const runtime of runtimes) {
        say(`run ${i}/${plan.runs} ${loadScenarioLabels[id]} on ${runtime.label} (${elapsed()})`);
        await running.get(`${id} ${runtime.id}`)?.runOnce();
      }
    }
  }
  const resultOf = (id: LoadScenarioId, runtime: Runtime) => {
    const scenario = running.get(`${id} ${runtime.id}`);
    if (!scenario) throw new Error(`${id} on ${runtime.label} did not run`);
    return scenario.result();
  };
  load = Object.fromEntries(scenarioIds.map((id) => [id, perRuntime((runtime) => resultOf(id, runtime))])) as typeof load;
} finally {
  await Promise.all([...running.values()].map((scenario) => scenario.stop()));
}

let coldStart: BenchReport['coldStart'] = null;
if (plan.coldStart) {
  say(
    `cold starts: ${Object.values(coldStartLabels).join(', ')}; ${plan.coldStartTries} tries each, without NODE_EXTRA_CA_CERTS, then ${settledTries(plan.coldStartTries)} of ${settleMs / 1000} s idle for the settled RSS (${elapsed()})`,
  );
  coldStart = await measureColdStarts(runtimes, bundles, plan.coldStartTries);
}

let pipeline: BenchReport['pipeline'] = null;
if (plan.pipeline) {
  const measured: Partial<Record<PipelineShapeId, Partial<PerRuntime<PipelineResult>>>> = {};
  for (const shape of Object.keys(pipelineShapeLabels) as PipelineShapeId[]) {
    for (const runtime of runtimes) {
      say(`message pipeline, ${pipelineShapeLabels[shape]} on ${runtime.label} (${elapsed()})`);
      measured[shape] = { ...measured[shape], [runtime.id]: await measurePipeline(shape, runtime, bundles, plan) };
    }
  }
  pipeline = measured as Record<PipelineShapeId, PerRuntime<PipelineResult>>;
}

let scaleOut: BenchReport['scaleOut'] = null;
if (plan.scaleOut.length > 0) {
  const points: PerRuntime<ScaleOutPoint[]> = { host: [], image: [] };
  for (const processes of plan.scaleOut) {
    for (const runtime of runtimes) {
      say(`scale-out: ${processes} pingpong processes on ${runtime.label} (${elapsed()})`);
      points[runtime.id].push(await measureScaleOut(processes, runtime, bundles, plan));
    }
  }
  scaleOut = points;
}

const measured: Omit<BenchReport, 'goals'> = {
  at: new Date().toISOString(),
  machine,
  runtimes: runtimes.map(({ id, label, version }) => ({ id, label, version })),
  loadGenerator: { version: wrkVersion(), flags: wrkFlags(plan) },
  plan,
  load,
  coldStart,
  pipeline,
  scaleOut,
};
const report: BenchReport = { ...measured, goals: evaluateGoals(measured) };
process.stdout.write(`${renderReport(report)}\n\n`);

if (isFullRun(plan)) {
  writeLatest(report);
  rewriteReadme(report);
  process.stdout.write(`wrote ${latestPath.slice(projectRoot.length)} and README.md's benchmark part (${elapsed()})\n`);
} else {
  // A quick or partial run must not replace the committed figures.
  const path = join(projectRoot, 'bench', 'results', 'last-run.json');
  await mkdir(join(projectRoot, 'bench', 'results'), { recursive: true });
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`wrote bench/results/last-run.json; README.md and latest.json are left alone (not a full run) (${elapsed()})\n`);
}
if (!report.goals.every((goal) => Object.values(goal.results).every((result) => result.pass))) process.exitCode = 1;
