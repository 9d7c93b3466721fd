/**
 * What the bench measures, by id, as the report names it. The ids key bench/results/latest.json;
 * the labels are only rendered, so renaming one changes the README and not the data.
 */
export const loadScenarioLabels = {
  bare: 'bare node:http hello',
  honoHello: 'Hono hello (same server stack)',
  peerHello: 'faas-js-runtime 4.0.1 hello (`func create -l node`)',
  productHealth: 'product `/health` on the pingpong bundle',
  pingpong: 'product `GET /pingpong` (default log level)',
  naive: 'naive: one `UPDATE ... RETURNING` per request',
} as const;

export type LoadScenarioId = keyof typeof loadScenarioLabels;

export const coldStartLabels = {
  bare: 'bare node:http hello',
  honoHello: 'Hono hello (same server stack)',
  peerHello: 'faas-js-runtime 4.0.1 hello',
  pingpong: 'pingpong bundle: its readiness probe, then its first committed pong',
} as const;

export type ColdStartProbeId = keyof typeof coldStartLabels;

export const pipelineShapeLabels = {
  oneProcess: '`npm start` shape: every function in one process',
  gateway: 'gateway topology (`npm start -- --isolated`): nginx, a process per function',
} as const;

export type PipelineShapeId = keyof typeof pipelineShapeLabels;
