import type { ColdStart } from './cold-start.ts';
import type { PipelineResult } from './pipeline.ts';
import type { ScenarioResult } from './scenarios.ts';

export interface Goal {
  goal: string;
  actual: string;
  pass: boolean;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

export function formatReport(
  results: ScenarioResult[],
  goals: Goal[],
  coldStarts: ColdStart[],
  pipeline: PipelineResult | undefined,
): string {
  const load = table(
    ['scenario', 'rps (median)', 'p99 ms', 'server CPU us/req', 'errors', '2xx', 'committed - 2xx'],
    results.map((result) => [
      result.name,
      result.rps.toFixed(0),
      String(result.p99Ms),
      result.cpuMicrosPerRequest.toFixed(0),
      String(result.errors),
      String(result.ok),
      result.counterMismatch === undefined ? 'n/a' : String(result.counterMismatch),
    ]),
  );
  const verdicts = table(
    ['goal', 'actual', 'result'],
    goals.map((goal) => [goal.goal, goal.actual, goal.pass ? 'PASS' : 'FAIL']),
  );
  const parts = [load, verdicts];
  if (coldStarts.length > 0) {
    parts.push(
      table(
        ['cold start (production bundle)', 'spawn -> first 200 ms', 'RSS after 1st request MiB'],
        coldStarts.map((cold) => [cold.name, cold.firstOkMs.toFixed(0), cold.idleRssMib.toFixed(1)]),
      ),
    );
  }
  if (pipeline) {
    parts.push(
      table(
        ['message pipeline', 'saves', 'senders', 'accepted/s', 'end to end ms', 'stored/s', 'stored'],
        [
          [
            'POST /save -> worker -> /view',
            String(pipeline.saves),
            String(pipeline.concurrency),
            pipeline.acceptedPerSecond.toFixed(0),
            pipeline.endToEndMs.toFixed(0),
            pipeline.storedPerSecond.toFixed(0),
            String(pipeline.stored),
          ],
        ],
      ),
    );
  }
  return parts.join('\n\n');
}
