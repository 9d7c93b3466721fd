import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import {
  canaryChecks,
  canaryResources,
  loadTesterImage,
  parseCanarySettings,
  readCanarySettings,
  renderFlaggerQuery,
} from '../scripts/canary-manifests.ts';
import { cluster, functionHost } from '../scripts/cluster.ts';
import type { ICanary, IMetricTemplate } from '../scripts/flagger.ts';
import { dashboardFile, dashboardQueries, podMonitorTargetLabels } from '../scripts/observability-manifests.ts';
import { renderKustomization } from './support/kustomize.ts';
import { strictSchemaErrors } from './support/strict-schema.ts';

const root = new URL('../', import.meta.url).pathname;

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

const canaryLayer = renderKustomization<KubeObject>(join(root, 'knative/canary'));
const monitoringLayer = renderKustomization<KubeObject>(join(root, 'knative/monitoring'));
const canaries = canaryLayer.filter((object): object is KubeObject & ICanary => object.kind === 'Canary');
const templates = canaryLayer.filter((object): object is KubeObject & IMetricTemplate => object.kind === 'MetricTemplate');
const podMonitors = monitoringLayer.filter((object) => object.kind === 'PodMonitor') as unknown as IPodMonitor[];
const settings = readCanarySettings();

const validators: Record<string, (data: unknown) => void> = {
  'apps/v1/Deployment': (data) => new Deployment(data as Deployment).validate(),
  'v1/Service': (data) => new Service(data as Service).validate(),
  'v1/ConfigMap': (data) => new ConfigMap(data as ConfigMap).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (data) => new NetworkPolicy(data as NetworkPolicy).validate(),
  'monitoring.coreos.com/v1/PodMonitor': (data) => new PodMonitor(data as PodMonitor).validate(),
};

describe('the opt-in layers knative/canary and knative/monitoring', () => {
  it('stay out of kubectl apply -k knative/: a cluster without Flagger or the Prometheus operator still applies it', () => {
    const base = renderKustomization<KubeObject>(join(root, 'knative'));
    expect(base.filter((object) => /^(flagger\.app|monitoring\.coreos\.com)\//.test(object.apiVersion))).toEqual([]);
  });

  it('declare no field their schema lacks, Flagger\'s kinds included', () => {
    expect(strictSchemaErrors([...canaryLayer, ...monitoringLayer])).toEqual([]);
  });

  it('validate every Kubernetes and Prometheus-operator object and keep all in knfn', () => {
    for (const object of [...canaryLayer, ...monitoringLayer]) {
      expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe(cluster.namespace);
      if (object.apiVersion.startsWith('flagger.app/')) continue;
      const validate = validators[`${object.apiVersion}/${object.kind}`];
      expect(validate, `no validator for ${object.apiVersion}/${object.kind}`).toBeDefined();
      expect(() => validate?.(object)).not.toThrow();
    }
  });

  it('names a misspelt Canary field', () => {
    const typo = structuredClone(canaries[0]) as unknown as { spec: { analysis: Record<string, unknown> } };
    typo.spec.analysis['stepWieghts'] = typo.spec.analysis['stepWeights'];
    delete typo.spec.analysis['stepWeights'];
    expect(strictSchemaErrors([typo])).toEqual([expect.stringMatching(/^Canary \S+: spec\.analysis\.stepWieghts: Object literal may only specify known properties/)]);
  });

  it('names a misspelt MetricTemplate provider field', () => {
    const typo = structuredClone(templates[0]) as unknown as { spec: { provider: Record<string, unknown> } };
    typo.spec.provider['adress'] = typo.spec.provider['address'];
    delete typo.spec.provider['address'];
    expect(strictSchemaErrors([typo])[0]).toMatch(/^MetricTemplate knfn-\S+: spec\.provider/);
  });

  it('names a misspelt PodMonitor field that validate() lets through', () => {
    const typo = structuredClone(podMonitors.find((monitor) => monitor.metadata?.name === 'functions')) as unknown as {
      spec: { podMetricsEndpoints: Record<string, unknown>[] };
    };
    const endpoint = typo.spec.podMetricsEndpoints[0] ?? {};
    endpoint['intervall'] = endpoint['interval'];
    delete endpoint['interval'];
    expect(() => new PodMonitor(typo as unknown as IPodMonitor).validate()).not.toThrow();
    expect(strictSchemaErrors([typo])).toEqual([expect.stringMatching(/^PodMonitor functions: spec\.podMetricsEndpoints\[0\]\.intervall: /)]);
  });
});

describe('the Canaries', () => {
  it('are one per function, internal ones included, each on the Knative provider', () => {
    expect(canaries.map((object) => object.metadata.name).sort()).toEqual(allFunctions.map((definition) => definition.name).sort());
    for (const object of canaries) {
      expect(object.spec.provider).toBe('knative');
      expect(object.spec.targetRef).toEqual({ apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: object.metadata.name });
      expect(object.spec.analysis).toMatchObject({ interval: '1m', threshold: 3, stepWeights: [25, 50, 75] });
    }
  });

  it('check metrics through MetricTemplates that exist, under names Flagger does not answer with its built-in queries', () => {
    const templateNames = new Set(templates.map((template) => template.metadata.name));
    for (const object of canaries) {
      const metrics = object.spec.analysis.metrics ?? [];
      expect(metrics.map((metric) => metric.name)).toEqual(canaryChecks().map((check) => check.metric));
      for (const metric of metrics) {
        expect(templateNames, `${object.metadata.name} ${metric.name}`).toContain(metric.templateRef?.name);
        expect(metric.templateRef?.namespace).toBe(cluster.namespace);
        expect(['request-success-rate', 'request-duration']).not.toContain(metric.name);
      }
    }
    for (const template of templates) expect(template.spec.provider).toEqual({ type: 'prometheus', address: 'http://prometheus-operated.monitoring:9090' });
  });

  it('take their thresholds from settings.json, per function where it says so', () => {
    const thresholds = (name: string) => Object.fromEntries((canaries.find((object) => object.metadata.name === name)?.spec.analysis.metrics ?? []).map((metric) => [metric.name, metric.thresholdRange]));
    expect(thresholds('pings')).toEqual({ 'success-rate': { min: 99 }, 'latency-p99': { max: 500 } });
    expect(thresholds('log-output')).toEqual({ 'success-rate': { min: 99 }, 'latency-p99': { max: settings.functions['log-output']?.latencyP99MaxMs } });
    expect(settings.functions['log-output']?.latencyP99MaxMs).toBe(1000);
  });

  it("load each function through its own cluster-local route with its declared probe, a request that changes nothing", () => {
    for (const definition of allFunctions) {
      const object = canaries.find((candidate) => candidate.metadata.name === definition.name);
      const webhooks = object?.spec.analysis.webhooks ?? [];
      expect(webhooks, definition.name).toHaveLength(1);
      const [hook] = webhooks;
      expect(hook).toMatchObject({ name: 'load-test', type: 'rollout', url: `http://flagger-loadtester.${cluster.namespace}/`, metadata: { type: 'cmd' } });
      const match = /^hey -z 1m -q 5 -c 2 -m (?<method>GET|POST)(?: -T application\/json -d '(?<body>[^']*)')? (?<url>\S+)$/.exec(hook?.metadata?.['cmd'] ?? '');
      expect(match, hook?.metadata?.['cmd']).not.toBeNull();
      const url = new URL(match?.groups?.['url'] ?? 'http://missing/');
      expect(url.host).toBe(functionHost(definition.name));
      const method = match?.groups?.['method'];
      expect(definition.app.routes.some((route) => route.method === method && route.path === url.pathname), `${definition.name} ${method} ${url.pathname}`).toBe(true);
    }
    // Where a GET would change something, the probe is a request the function refuses before acting.
    const probes = Object.fromEntries(allFunctions.map((definition) => [definition.name, definition.probe]));
    expect(probes['save']).toEqual({ method: 'POST', path: '/save', body: '{}' });
    expect(probes['message-worker']).toEqual({ method: 'POST', path: '/_events/message', body: '{}' });
  });

  it('refuse a function without a probe and a probe on a route the function does not declare', () => {
    const pings = allFunctions.find((definition) => definition.name === 'pings');
    if (!pings) throw new Error('no pings');
    const defaults = parseCanarySettings({});
    expect(() => canaryResources([{ ...pings, name: 'brand-new', probe: undefined }], defaults)).toThrow(/"brand-new" has no GET route without parameters: declare a probe/);
    const withoutGet = { ...pings, app: { routes: [{ method: 'POST', path: '/pings' }] } } as unknown as typeof pings;
    expect(() => canaryResources([withoutGet], defaults)).toThrow(/GET \/pings, which the function does not declare/);
  });

  it('run a pinned load tester inside the namespace, non-root, without an API token', () => {
    const deployment = canaryLayer.find((object) => object.kind === 'Deployment') as unknown as Deployment;
    const container = deployment.spec?.template.spec?.containers[0];
    expect(container?.image).toBe(loadTesterImage);
    expect(loadTesterImage).toMatch(/:\d+\.\d+\.\d+$/);
    expect(container?.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(deployment.spec?.template.spec?.automountServiceAccountToken).toBe(false);
    const service = canaryLayer.find((object) => object.kind === 'Service') as unknown as Service;
    expect(service.metadata?.name).toBe('flagger-loadtester');
    expect(service.spec?.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
  });
});

describe('canary settings', () => {
  it('default every field, so an absent settings.json is the documented defaults', () => {
    expect(parseCanarySettings({})).toMatchObject({ interval: '1m', threshold: 3, stepWeights: [25, 50, 75], successRateMin: 99, latencyP99MaxMs: 500 });
    expect(readCanarySettings(join(root, 'no-such-settings.json')).functions).toEqual({});
  });

  it('refuse a wrong value or a misspelt field, naming it', () => {
    expect(() => parseCanarySettings({ stepWeights: [50, 25] })).toThrow(/stepWeights: must rise step by step/);
    expect(() => parseCanarySettings({ interval: '90' })).toThrow(/interval: must be whole seconds or minutes/);
    expect(() => parseCanarySettings({ treshold: 3 })).toThrow(/treshold/);
    expect(() => canaryResources(allFunctions, parseCanarySettings({ functions: { pingpnog: { latencyP99MaxMs: 900 } } }))).toThrow(/functions\.pingpnog names no function/);
  });
});

describe('Flagger query rendering', () => {
  const model = { name: 'pings', namespace: 'knfn', target: 'pings', route: 'pings-00002', interval: '1m' };

  it('fills in the canary Revision, the namespace and the interval', () => {
    const successRate = canaryChecks().find((check) => check.metric === 'success-rate');
    const rendered = renderFlaggerQuery(successRate?.query ?? '', model);
    expect(rendered).not.toContain('{{');
    expect(rendered).toContain('http_requests_total{namespace="knfn", revision="pings-00002", status=~"5.."}[1m]');
    expect(renderFlaggerQuery('{{ service }}/{{ingress}}/{{ name }}/{{ target }}', model)).toBe('pings/pings/pings/pings');
    expect(renderFlaggerQuery('a  {{- route -}}  b', model)).toBe('apings-00002b');
  });

  it('refuses a function Flagger does not define', () => {
    expect(() => renderFlaggerQuery('{{ revision }}', model)).toThrow(/no function "revision"/);
  });
});

describe('the PodMonitors and the dashboard', () => {
  it('scrape the functions\' user-port with exactly the contract\'s target labels', () => {
    const functions = podMonitors.find((monitor) => monitor.metadata?.name === 'functions');
    expect(functions?.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/part-of': 'knfn', 'app.kubernetes.io/component': 'function' });
    const [endpoint] = functions?.spec.podMetricsEndpoints ?? [];
    expect(endpoint).toMatchObject({ port: 'user-port', path: '/metrics' });
    expect(endpoint?.relabelings?.map((relabeling) => relabeling.targetLabel)).toEqual([...podMonitorTargetLabels]);
    expect(endpoint?.relabelings?.find((relabeling) => relabeling.targetLabel === 'revision')?.sourceLabels).toEqual(['__meta_kubernetes_pod_label_serving_knative_dev_revision']);
  });

  it('scrape the wsproxy on the metrics port its Deployment names, which a NetworkPolicy opens', () => {
    const wsproxy = podMonitors.find((monitor) => monitor.metadata?.name === 'wsproxy');
    expect(wsproxy?.spec.podMetricsEndpoints?.[0]?.port).toBe('metrics');
    const base = renderKustomization<KubeObject & { spec?: { template?: { spec?: { containers?: { ports?: { name?: string; containerPort: number }[] }[] } } } }>(join(root, 'knative'));
    const ports = base.find((object) => object.kind === 'Deployment' && object.metadata.name === 'wsproxy')?.spec?.template?.spec?.containers?.[0]?.ports;
    expect(ports).toContainEqual({ name: 'metrics', containerPort: 2112 });
    const policy = monitoringLayer.find((object) => object.kind === 'NetworkPolicy') as unknown as NetworkPolicy;
    expect(policy.spec?.ingress?.[0]?.ports).toEqual([{ protocol: 'TCP', port: 2112 }]);
  });

  it('ship a dashboard whose every panel has a query, also as the ConfigMap Grafana\'s sidecar loads', () => {
    const text = readFileSync(join(root, 'knative/monitoring', dashboardFile), 'utf8');
    const json = JSON.parse(text) as { panels: { title: string; targets: { expr: string }[] }[]; templating: { list: { name: string }[] } };
    expect(json.panels.length).toBeGreaterThanOrEqual(6);
    for (const panel of json.panels) expect(panel.targets.length, panel.title).toBeGreaterThan(0);
    expect(json.panels.flatMap((panel) => panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })))).toEqual(dashboardQueries());
    expect(json.templating.list.map((variable) => variable.name)).toEqual(['datasource', 'namespace', 'function']);
    for (const { panel, expr } of dashboardQueries()) {
      expect(expr, panel).toContain('namespace="$namespace"');
      if (expr.includes('rate(')) expect(expr, panel).toContain('[$__rate_interval]');
    }
    const configMap = monitoringLayer.find((object) => object.kind === 'ConfigMap') as unknown as ConfigMap;
    expect(configMap.metadata?.labels?.['grafana_dashboard']).toBe('1');
    expect(configMap.data?.[dashboardFile]).toBe(text);
    const titles = json.panels.map((panel) => panel.title).join('\n');
    for (const needed of [/Requests per second/, /5xx/, /Latency p50 \/ p95 \/ p99/, /Database query p50/, /Connection pool/, /Database size/]) expect(titles).toMatch(needed);
  });
});
