import type { ColdStart } from './cold-start.ts';
import type { ColdStartProbeId, LoadScenarioId, PipelineShapeId } from './labels.ts';
import type { Machine } from './machine.ts';
import type { PipelineResult } from './pipeline.ts';
import type { Plan } from './plan.ts';
import type { Runtime } from './runtimes.ts';
import type { ScaleOutPoint } from './scale-out.ts';
import type { LoadResult } from './scenarios.ts';

export type RuntimeId = Runtime['id'];
export type PerRuntime<T> = Record<RuntimeId, T>;

export interface GoalResult {
  actual: string;
  pass: boolean;
}

export interface Goal {
  goal: string;
  results: Partial<PerRuntime<GoalResult>>;
}

/** Everything one run measured: bench/results/latest.json, from which the README's figures are rendered. */
export interface BenchReport {
  at: string;
  machine: Machine;
  runtimes: Pick<Runtime, 'id' | 'label' | 'version'>[];
  loadGenerator: { version: string; flags: string };
  plan: Plan;
  load: Record<LoadScenarioId, PerRuntime<LoadResult>>;
  coldStart: Record<ColdStartProbeId, PerRuntime<ColdStart>> | null;
  pipeline: Record<PipelineShapeId, PerRuntime<PipelineResult>> | null;
  scaleOut: PerRuntime<ScaleOutPoint[]> | null;
  goals: Goal[];
}
