import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cluster } from '../scripts/cluster.ts';
import { migrationJobName, rolesJobName } from '../scripts/migrate-manifests.ts';
import { defaultRelease } from '../scripts/release.ts';
import { renderKustomization } from './support/kustomize.ts';
import { isAllowed, matchesSelector } from './support/network-policy.ts';
import type { Endpoint, NetworkPolicy } from './support/network-policy.ts';

const root = new URL('../', import.meta.url).pathname;

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec?: { containers?: { ports?: { name?: string; containerPort: number }[] }[] };
}
interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } };
}

const rendered = renderKustomization<KubeObject>(join(root, 'knative'));
const monitoring = renderKustomization<KubeObject>(join(root, 'knative/monitoring'));
const canary = renderKustomization<KubeObject>(join(root, 'knative/canary'));
const policies = [...rendered, ...monitoring].filter((object) => object.kind === 'NetworkPolicy') as unknown as NetworkPolicy[];

/** A pod of a rendered workload, labelled as its template says (plus what Knative adds to a Revision's pods). */
function podOf(objects: readonly KubeObject[], kind: string, name: string): Endpoint {
  const object = objects.find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
  if (!object) throw new Error(`no ${kind}/${name} rendered`);
  const template = object.spec?.template ?? object.spec?.jobTemplate?.spec.template;
  const labels = { ...(template?.metadata?.labels ?? {}) };
  const ports: Record<string, number> = {};
  for (const port of template?.spec?.containers?.flatMap((container) => container.ports ?? []) ?? []) {
    if (port.name) ports[port.name] = port.containerPort;
  }
  if (object.apiVersion === 'serving.knative.dev/v1') {
    // Knative labels every Revision pod with its Service and Revision, and names the user port.
    labels['serving.knative.dev/service'] = name;
    labels['serving.knative.dev/revision'] = `${name}-00001`;
    ports['user-port'] = 8080;
    ports['queue-port'] = 8012;
  }
  return { namespace: object.metadata.namespace ?? cluster.namespace, labels, ports };
}

/** The restore pod of knative/README.md's runbook, labelled as its `kubectl run --labels` says. */
function restorePod(): Endpoint {
  const readme = readFileSync(join(root, 'knative/README.md'), 'utf8');
  const run = readme.match(/kubectl run restore [^\n]*\n\s*--labels=(\S+)/);
  if (!run?.[1]) throw new Error('knative/README.md has no `kubectl run restore` with --labels');
  return { namespace: cluster.namespace, labels: Object.fromEntries(run[1].split(',').map((pair) => pair.split('=') as [string, string])) };
}

const release = defaultRelease();
const pod = {
  pingpong: podOf(rendered, 'Service', 'pingpong'),
  save: podOf(rendered, 'Service', 'save'),
  logOutput: podOf(rendered, 'Service', 'log-output'),
  wsproxy: podOf(rendered, 'Deployment', 'wsproxy'),
  postgres: podOf(rendered, 'StatefulSet', 'postgres'),
  redis: podOf(rendered, 'StatefulSet', 'redis'),
  gateway: podOf(rendered, 'Deployment', 'gateway'),
  migrate: podOf(rendered, 'Job', migrationJobName(release)),
  roles: podOf(rendered, 'Job', rolesJobName(release, 'roles')),
  backup: podOf(rendered, 'CronJob', 'postgres-backup'),
  loadTester: podOf(canary, 'Deployment', 'flagger-loadtester'),
  restore: restorePod(),
  stranger: { namespace: cluster.namespace, labels: { run: 'debug' } },
  activator: { namespace: 'knative-serving', labels: { app: 'activator' } },
  autoscaler: { namespace: 'knative-serving', labels: { app: 'autoscaler' } },
  kourier: { namespace: 'kourier-system', labels: { app: '3scale-kourier-gateway' } },
  ingressNginx: { namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
  prometheus: { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' } },
  flagger: { namespace: 'flagger-system', labels: { app: 'flagger' } },
  // eventing-rabbitmq runs the Broker's ingress and dispatchers in the Broker's namespace.
  brokerIngress: { namespace: cluster.namespace, labels: { 'eventing.knative.dev/broker': 'default', 'eventing.knative.dev/brokerRole': 'ingress' } },
  brokerDispatcher: { namespace: cluster.namespace, labels: { 'eventing.knative.dev/broker': 'default', 'eventing.knative.dev/brokerRole': 'dispatcher' } },
  rabbitmq: { namespace: cluster.namespace, labels: { 'app.kubernetes.io/name': 'rabbitmq', 'app.kubernetes.io/component': 'rabbitmq' } },
  rabbitmqOperator: { namespace: 'rabbitmq-system', labels: { 'app.kubernetes.io/name': 'messaging-topology-operator' } },
  kubeDns: { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
  otherNamespace: { namespace: 'default', labels: { app: 'anything' } },
  internet: { namespace: '', labels: {}, external: true },
} satisfies Record<string, Endpoint>;

type Name = keyof typeof pod;
const flows: [from: Name, to: Name, port: number, allowed: boolean, protocol?: 'UDP'][] = [
  // Knative reaches the functions' pods: requests through queue-proxy, the autoscaler's metrics.
  ['activator', 'pingpong', 8012, true],
  ['kourier', 'pingpong', 8012, true],
  ['autoscaler', 'pingpong', 9090, true],
  ['prometheus', 'pingpong', 8080, true],
  ['prometheus', 'wsproxy', 2112, true],
  ['prometheus', 'postgres', 5432, false],
  ['prometheus', 'pingpong', 8012, false],
  // Only the gateway is public, reached from the Ingress controller; it calls the networking layer.
  ['ingressNginx', 'gateway', 8080, true],
  ['ingressNginx', 'pingpong', 8012, false],
  ['gateway', 'kourier', 8081, true],
  ['gateway', 'pingpong', 8012, false],
  ['gateway', 'postgres', 5432, false],
  ['gateway', 'kubeDns', 53, true, 'UDP'],
  ['otherNamespace', 'gateway', 8080, false],
  // Functions: the database only through the wsproxy; other functions through their route.
  ['pingpong', 'wsproxy', 8080, true],
  ['pingpong', 'postgres', 5432, false],
  ['pingpong', 'kubeDns', 53, true, 'UDP'],
  ['logOutput', 'kourier', 8081, true],
  ['logOutput', 'pingpong', 8012, false],
  ['save', 'brokerIngress', 8080, true],
  // The RabbitMQ Broker: ingress and dispatchers to RabbitMQ, dispatchers to the subscribers' routes.
  ['brokerIngress', 'rabbitmq', 5672, true],
  ['brokerDispatcher', 'rabbitmq', 5672, true],
  ['brokerDispatcher', 'kourier', 8081, true],
  ['brokerIngress', 'postgres', 5432, false],
  ['brokerDispatcher', 'pingpong', 8012, false],
  ['rabbitmqOperator', 'rabbitmq', 15672, true],
  ['pingpong', 'rabbitmq', 5672, false],
  ['stranger', 'brokerIngress', 8080, false],
  ['otherNamespace', 'rabbitmq', 5672, false],
  ['save', 'internet', 443, true],
  ['save', 'internet', 80, false],
  ['migrate', 'wsproxy', 8080, true],
  ['migrate', 'postgres', 5432, false],
  ['wsproxy', 'postgres', 5432, true],
  ['wsproxy', 'internet', 443, false],
  // Straight to PostgreSQL: the backup, the role bootstrap, the restore runbook's pod; nobody else.
  ['backup', 'postgres', 5432, true],
  ['roles', 'postgres', 5432, true],
  ['restore', 'postgres', 5432, true],
  ['stranger', 'postgres', 5432, false],
  ['stranger', 'wsproxy', 8080, false],
  ['otherNamespace', 'postgres', 5432, false],
  ['otherNamespace', 'wsproxy', 8080, false],
  ['otherNamespace', 'pingpong', 8012, false],
  ['postgres', 'internet', 443, false],
  ['backup', 'internet', 443, false],
  // Flagger's load tester: called by Flagger, calls the functions' routes.
  ['flagger', 'loadTester', 8080, true],
  ['loadTester', 'kourier', 8081, true],
  ['loadTester', 'postgres', 5432, false],
  // Redis: the functions only (each one is checked below); it calls nothing itself.
  ['pingpong', 'redis', 6379, true],
  ['pingpong', 'redis', 6380, false],
  ['gateway', 'redis', 6379, false],
  ['postgres', 'redis', 6379, false],
  ['wsproxy', 'redis', 6379, false],
  ['migrate', 'redis', 6379, false],
  ['backup', 'redis', 6379, false],
  ['brokerIngress', 'redis', 6379, false],
  ['loadTester', 'redis', 6379, false],
  ['stranger', 'redis', 6379, false],
  ['prometheus', 'redis', 6379, false],
  ['kourier', 'redis', 6379, false],
  ['otherNamespace', 'redis', 6379, false],
  ['internet', 'redis', 6379, false],
  ['redis', 'internet', 443, false],
  ['redis', 'postgres', 5432, false],
  ['redis', 'pingpong', 8080, false],
];

describe('the rendered network policies', () => {
  it('deny everything in the namespace by default, both ways', () => {
    const denyAll = policies.find((policy) => Object.keys(policy.spec.podSelector).length === 0 && !policy.spec.ingress && !policy.spec.egress);
    expect(denyAll?.spec.policyTypes?.sort()).toEqual(['Egress', 'Ingress']);
  });

  it.each(flows.map(([from, to, port, allowed, protocol]) => [`${from} -> ${to}:${port}${protocol ? `/${protocol}` : ''} ${allowed ? 'allowed' : 'denied'}`, from, to, port, allowed, protocol] as const))(
    '%s',
    (_, from, to, port, allowed, protocol) => {
      expect(isAllowed(policies, { from: pod[from], to: pod[to], port, ...(protocol ? { protocol } : {}) })).toBe(allowed);
    },
  );

  it.each(rendered.filter((object) => object.apiVersion === 'serving.knative.dev/v1').map((object) => object.metadata.name))(
    'let the function %s reach Redis on 6379',
    (name) => {
      expect(isAllowed(policies, { from: podOf(rendered, 'Service', name), to: pod.redis, port: 6379 })).toBe(true);
    },
  );

  it('allow nothing at all without them (the table is not passing by accident)', () => {
    const allowedFlows = flows.filter(([, , , allowed]) => allowed);
    const withoutAllowRules = policies.filter((policy) => policy.metadata.name === 'default-deny');
    for (const [from, to, port, , protocol] of allowedFlows) {
      if (pod[from].namespace !== cluster.namespace && pod[to].namespace !== cluster.namespace) continue;
      expect(isAllowed(withoutAllowRules, { from: pod[from], to: pod[to], port, ...(protocol ? { protocol } : {}) }), `${from} -> ${to}`).toBe(false);
    }
  });
});

describe('the evaluator', () => {
  const policy = (spec: NetworkPolicy['spec']): NetworkPolicy => ({ kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'a' }, spec });
  const inA = (labels: Record<string, string>, ports?: Record<string, number>): Endpoint => ({ namespace: 'a', labels, ...(ports ? { ports } : {}) });

  it('reads a podSelector peer as pods of the policy\'s own namespace only', () => {
    const allowApp = policy({ podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'x' } } }] }] });
    expect(isAllowed([allowApp], { from: inA({ app: 'x' }), to: inA({}), port: 1 })).toBe(true);
    expect(isAllowed([allowApp], { from: { namespace: 'b', labels: { app: 'x' } }, to: inA({}), port: 1 })).toBe(false);
  });

  it('resolves named ports on the destination and honours endPort and protocol', () => {
    const named = policy({ podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 'metrics' }, { port: 9000, endPort: 9010, protocol: 'UDP' }] }] });
    expect(isAllowed([named], { from: inA({}), to: inA({}, { metrics: 2112 }), port: 2112 })).toBe(true);
    expect(isAllowed([named], { from: inA({}), to: inA({}, { metrics: 2112 }), port: 2113 })).toBe(false);
    expect(isAllowed([named], { from: inA({}), to: inA({}), port: 9005, protocol: 'UDP' })).toBe(true);
    expect(isAllowed([named], { from: inA({}), to: inA({}), port: 9005 })).toBe(false);
  });

  it('evaluates matchExpressions', () => {
    const labels = { tier: 'db' };
    expect(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['db', 'web'] }] }, labels)).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] }, labels)).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels)).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, labels)).toBe(false);
    expect(matchesSelector({}, labels)).toBe(true);
  });
});
