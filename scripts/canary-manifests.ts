import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';
import { z } from 'zod';
import type { FunctionDefinition } from '../runtime/define-function.ts';
import { cluster, functionHost } from './cluster.ts';
import type { FlaggerCanaryMetric, FlaggerWebhook, ICanary, IMetricTemplate } from './flagger.ts';
import { parseSettings, readSettingsFile } from './settings-file.ts';

export const canaryDir = 'knative/canary';
/** The one file under knative/canary/ that people edit; everything else there is generated. */
export const canarySettingsFile = `${canaryDir}/settings.json`;

/** Pinned as in Flagger's own kustomize/tester; `hey` in it generates the load. */
export const loadTesterImage = 'ghcr.io/fluxcd/flagger-loadtester:0.38.0';
const loadTesterName = 'flagger-loadtester';
const loadTesterUrl = `http://${loadTesterName}.${cluster.namespace}/`;


const duration = z.string().regex(/^[1-9][0-9]*(s|m)$/, 'must be whole seconds or minutes, e.g. 30s or 1m');

const thresholds = {
  /** Percent of the canary's answers that are not 5xx. */
  successRateMin: z.number().min(0).max(100),
  /** The canary's 99th-percentile latency, in milliseconds. */
  latencyP99MaxMs: z.number().positive(),
};

/** What a user sets in knative/canary/settings.json; every field has a default. */
export const canarySettingsSchema = z.strictObject({
  /** Where Flagger asks Prometheus (the Prometheus operator's Service in `monitoring` by default). */
  prometheus: z.url({ protocol: /^https?$/ }).default('http://prometheus-operated.monitoring:9090'),
  /** One analysis step: each check runs once per interval over the last interval's samples. */
  interval: duration.default('1m'),
  /** Failed checks (summed over the rollout) after which Flagger rolls back. */
  threshold: z.number().int().min(1).default(3),
  /** Canary traffic percentages, one step per interval; promotion (100) follows the last. */
  stepWeights: z
    .array(z.number().int().min(1).max(99))
    .min(1)
    .refine((weights) => weights.every((weight, index) => index === 0 || weight > (weights[index - 1] ?? 0)), 'must rise step by step')
    .default([25, 50, 75]),
  /** Time for a canary Revision to become ready and make progress before it is rolled back. */
  progressDeadlineSeconds: z.number().int().min(60).default(600),
  successRateMin: thresholds.successRateMin.default(99),
  latencyP99MaxMs: thresholds.latencyP99MaxMs.default(500),
  loadTest: z
    .strictObject({
      requestsPerSecond: z.number().positive().max(1000).default(10),
      concurrency: z.number().int().min(1).max(50).default(2),
    })
    .prefault({}),
  /** Per function: other thresholds, or `skipAnalysis: true` to promote without analysis. */
  functions: z
    .record(
      z.string(),
      z.strictObject({
        successRateMin: thresholds.successRateMin.optional(),
        latencyP99MaxMs: thresholds.latencyP99MaxMs.optional(),
        skipAnalysis: z.boolean().optional(),
      }),
    )
    .default({}),
});

export type CanarySettings = z.infer<typeof canarySettingsSchema>;

export function parseCanarySettings(input: unknown, source = canarySettingsFile): CanarySettings {
  return parseSettings(canarySettingsSchema, input, source);
}

/** The settings in `path`; every default when there is no such file. */
export function readCanarySettings(path: string | URL = new URL(`../${canarySettingsFile}`, import.meta.url)): CanarySettings {
  return readSettingsFile(canarySettingsSchema, path, canarySettingsFile, () => parseCanarySettings({}));
}

/** The canary Revision's answers, selected by the PodMonitor's labels (see observability-manifests.ts). */
const canarySelector = 'namespace="{{ namespace }}", revision="{{ route }}"';

/**
 * The two MetricTemplates. Their metric names avoid `request-success-rate` and `request-duration`:
 * Flagger answers those two names with its built-in queries and ignores a templateRef.
 */
const templates = {
  successRate: {
    metric: 'success-rate',
    templateName: 'knfn-success-rate',
    // The 5xx share or 0 when there was none; no request at all leaves the division empty, which
    // Flagger counts as a failed check: a canary nobody called has proved nothing.
    query: [
      '100 * (1 - (',
      `  (sum(rate(http_requests_total{${canarySelector}, status=~"5.."}[{{ interval }}])) or vector(0))`,
      `  / sum(rate(http_requests_total{${canarySelector}}[{{ interval }}]))`,
      '))',
    ].join('\n'),
  },
  latencyP99: {
    metric: 'latency-p99',
    templateName: 'knfn-latency-p99',
    query: [
      'histogram_quantile(0.99,',
      `  sum by (le) (rate(http_request_duration_seconds_bucket{${canarySelector}}[{{ interval }}]))`,
      ') * 1000',
    ].join('\n'),
  },
} as const;

/** One check of a Canary's analysis, as Flagger runs it. */
export interface CanaryCheck {
  /** The Canary's `metrics[].name`. */
  metric: string;
  templateName: string;
  /** Raw, with Flagger's `{{ ... }}`. */
  query: string;
  thresholdRange: { min?: number; max?: number };
}

/** The checks every Canary runs, with the thresholds for `functionName` (the defaults without one). */
export function canaryChecks(functionName?: string, settings: CanarySettings = readCanarySettings()): CanaryCheck[] {
  const own = functionName === undefined ? {} : (settings.functions[functionName] ?? {});
  return [
    { ...templates.successRate, thresholdRange: { min: own.successRateMin ?? settings.successRateMin } },
    { ...templates.latencyP99, thresholdRange: { max: own.latencyP99MaxMs ?? settings.latencyP99MaxMs } },
  ];
}

/** Flagger's `MetricTemplateModel` functions; for the Knative provider `service` and `ingress` are the target. */
export interface FlaggerQueryModel {
  name: string;
  namespace: string;
  target: string;
  route: string;
  interval: string;
}

/**
 * Renders Flagger's Go-template functions the way Flagger does for the Knative provider
 * (observers.RenderQuery with MetricTemplateModel.TemplateFunctions): `{{ name }}`,
 * `{{ namespace }}`, `{{ target }}`, `{{ service }}`, `{{ ingress }}`, `{{ route }}` (the
 * Service's latestCreatedRevisionName, i.e. the canary Revision), `{{ interval }}`, with Go's
 * `{{-`/`-}}` whitespace trimming. Anything else (`variables`, pipelines) throws, as an undefined
 * function fails Flagger's template parse.
 */
export function renderFlaggerQuery(query: string, model: FlaggerQueryModel): string {
  const values: Record<string, string> = {
    name: model.name,
    namespace: model.namespace,
    target: model.target,
    service: model.target,
    ingress: model.target,
    route: model.route,
    interval: model.interval,
  };
  const rendered = query.replace(/(\s*)\{\{(-\s)?\s*([^{}]*?)\s*(\s-)?\}\}(\s*)/g, (_match, before: string, trimLeft, action: string, trimRight, after: string) => {
    const value = values[action];
    if (value === undefined) throw new Error(`Flagger's query template has no function "${action}" (known: ${Object.keys(values).join(', ')})`);
    return `${trimLeft ? '' : before}${value}${trimRight ? '' : after}`;
  });
  if (/\{\{|\}\}/.test(rendered)) throw new Error(`unbalanced template braces in query: ${query}`);
  return rendered;
}

/** One generated file under knative/canary/ and the plain object it holds. */
export interface CanaryResource {
  file: string;
  object: unknown;
}

function metricTemplate(template: (typeof templates)[keyof typeof templates], settings: CanarySettings): IMetricTemplate {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name: template.templateName, namespace: cluster.namespace, labels: { 'app.kubernetes.io/part-of': cluster.partOf } },
    spec: { provider: { type: 'prometheus', address: settings.prometheus }, query: template.query },
  };
}

/**
 * The load tester's `hey` for one function, sending its declared probe (defineFunction's `probe`)
 * to its cluster-local address: one interval long, so each step's load ends with it.
 */
export function loadTestWebhook(definition: FunctionDefinition, settings: CanarySettings): FlaggerWebhook {
  const { probe } = definition;
  if (probe === undefined) {
    throw new Error(`function "${definition.name}" has no GET route without parameters: declare a probe in its defineFunction (a request that changes nothing)`);
  }
  const path = probe.path.split('?', 1)[0] ?? probe.path;
  if (!definition.app.routes.some((route) => route.method === probe.method && route.path === path)) {
    throw new Error(`the probe of "${definition.name}" is ${probe.method} ${probe.path}, which the function does not declare`);
  }
  // The load tester runs the command with sh -c: the body goes in single quotes.
  if (probe.body?.includes("'") === true) throw new Error(`the probe body of "${definition.name}" must not contain a single quote`);
  const { requestsPerSecond, concurrency } = settings.loadTest;
  // hey's -q is per worker.
  const perWorker = Math.round((requestsPerSecond / concurrency) * 1000) / 1000;
  const request = probe.body === undefined ? ['-m', probe.method] : ['-m', probe.method, '-T', 'application/json', '-d', `'${probe.body}'`];
  const cmd = ['hey', '-z', settings.interval, '-q', String(perWorker), '-c', String(concurrency), ...request, `http://${functionHost(definition.name)}${probe.path}`];
  return { name: 'load-test', type: 'rollout', url: loadTesterUrl, timeout: '15s', metadata: { type: 'cmd', cmd: cmd.join(' ') } };
}

export function canary(definition: FunctionDefinition, settings: CanarySettings): ICanary {
  const { name } = definition;
  const metrics: FlaggerCanaryMetric[] = canaryChecks(name, settings).map((check) => ({
    name: check.metric,
    templateRef: { name: check.templateName, namespace: cluster.namespace },
    thresholdRange: check.thresholdRange,
    interval: settings.interval,
  }));
  const webhook = loadTestWebhook(definition, settings);
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: {
      name,
      namespace: cluster.namespace,
      labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': cluster.partOf, 'app.kubernetes.io/component': 'canary' },
    },
    spec: {
      provider: 'knative',
      targetRef: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name },
      progressDeadlineSeconds: settings.progressDeadlineSeconds,
      ...(settings.functions[name]?.skipAnalysis === true ? { skipAnalysis: true } : {}),
      analysis: {
        interval: settings.interval,
        threshold: settings.threshold,
        stepWeights: [...settings.stepWeights],
        metrics,
        webhooks: [webhook],
      },
    },
  };
}

function loadTester(): { deployment: Deployment; service: Service } {
  const selector = { 'app.kubernetes.io/name': loadTesterName, 'app.kubernetes.io/part-of': cluster.partOf };
  const labels = { ...selector, 'app.kubernetes.io/component': 'load-tester' };
  const namespace = cluster.namespace;
  const healthz = { exec: { command: ['wget', '--quiet', '--tries=1', '--timeout=4', '--spider', 'http://localhost:8080/healthz'] }, timeoutSeconds: 5 };
  const deployment = new Deployment({
    metadata: { name: loadTesterName, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          containers: [
            {
              name: 'loadtester',
              image: loadTesterImage,
              command: ['./loadtester', '-port=8080', '-log-level=info', '-timeout=1h'],
              ports: [{ name: 'http', containerPort: 8080 }],
              livenessProbe: healthz,
              readinessProbe: healthz,
              resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '1', memory: '512Mi' } },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 10001,
                runAsGroup: 10001,
                readOnlyRootFilesystem: true,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
          ],
        },
      },
    },
  });
  const service = new Service({
    metadata: { name: loadTesterName, namespace, labels },
    spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  });
  deployment.validate();
  service.validate();
  return { deployment, service };
}

/** Everything under knative/canary/, in kustomization order. */
export function canaryResources(functions: readonly FunctionDefinition[], settings: CanarySettings): CanaryResource[] {
  const names = new Set(functions.map((definition) => definition.name));
  for (const name of Object.keys(settings.functions)) {
    if (!names.has(name)) throw new Error(`${canarySettingsFile}: functions.${name} names no function (known: ${[...names].join(', ')})`);
  }
  const { deployment, service } = loadTester();
  return [
    { file: 'metric-template-success-rate.yaml', object: metricTemplate(templates.successRate, settings) },
    { file: 'metric-template-latency-p99.yaml', object: metricTemplate(templates.latencyP99, settings) },
    { file: 'loadtester-deployment.yaml', object: deployment.toJSON() },
    { file: 'loadtester-service.yaml', object: service.toJSON() },
    ...[...functions]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((definition) => ({ file: `canary-${definition.name}.yaml`, object: canary(definition, settings) })),
  ];
}
