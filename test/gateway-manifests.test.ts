import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { renderNginxConfig } from '../runtime/gateway/nginx-config.ts';
import { findNginx } from '../runtime/gateway/nginx-process.ts';
import { configForNginx } from './support/nginx.ts';
import { functionTimeoutSeconds } from '../scripts/cluster.ts';
import {
  configChecksumAnnotation,
  gatewayDir,
  gatewayImage,
  gatewayNginxSettings,
  gatewayResources,
  gatewaySettingsFile,
  parseGatewaySettings,
  readGatewaySettings,
} from '../scripts/gateway-manifests.ts';
import { writeManifests } from '../scripts/manifests.ts';
import { renderKustomization } from './support/kustomize.ts';
import { strictSchemaErrors } from './support/strict-schema.ts';

const root = new URL('../', import.meta.url).pathname;
const settings = readGatewaySettings();
const rendered = renderKustomization<{ kind: string; apiVersion: string; metadata: { name: string } }>(join(root, gatewayDir));

function find<T>(kind: string): T {
  const matches = rendered.filter((object) => object.kind === kind && object.metadata.name === 'gateway');
  expect(matches, `${kind}/gateway`).toHaveLength(1);
  return matches[0] as T;
}

const configMap = find<IConfigMap>('ConfigMap');
const deployment = find<IDeployment>('Deployment');
const service = find<IService>('Service');
const ingress = find<IIngress>('Ingress');
const budget = find<IPodDisruptionBudget>('PodDisruptionBudget');
const nginxConf = configMap.data?.['nginx.conf'] ?? '';
const container = (deployment.spec?.template.spec?.containers ?? [])[0] as IContainer;
const podLabels = deployment.spec?.template.metadata?.labels ?? {};
const publicFunctions = allFunctions.filter((definition) => !definition.internal).map((definition) => definition.name);
const internalFunctions = allFunctions.filter((definition) => definition.internal).map((definition) => definition.name);

function containerPort(name: unknown): number | undefined {
  return container.ports?.find((port) => port.name === name)?.containerPort;
}

describe('gateway settings (knative/gateway/settings.json)', () => {
  it('default every field', () => {
    expect(parseGatewaySettings({})).toEqual({
      host: 'knfn.example.com',
      ingressClassName: 'nginx',
      tls: null,
      replicas: 2,
      limits: { maxBodyBytes: 1048576, connectTimeoutSeconds: 5, readTimeoutSeconds: 60, sendTimeoutSeconds: 60, clientBodyTimeoutSeconds: 15 },
      resolver: { address: 'kube-dns.kube-system.svc.cluster.local', validSeconds: 30 },
      trustedProxies: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
    });
  });

  it('take the client from X-Forwarded-For only past the trusted proxies, and refuse a range that is not one', () => {
    const conf = renderNginxConfig(gatewayNginxSettings(allFunctions, parseGatewaySettings({ trustedProxies: ['10.42.0.0/16'] })));
    expect(conf).toContain('set_real_ip_from 10.42.0.0/16;');
    expect(conf).toContain('real_ip_recursive on;');
    expect(conf).toMatch(/proxy_set_header X-Forwarded-For \$remote_addr;/);
    expect(renderNginxConfig(gatewayNginxSettings(allFunctions, parseGatewaySettings({ trustedProxies: [] })))).not.toContain('set_real_ip_from');
    expect(() => parseGatewaySettings({ trustedProxies: ['10.0.0.0/40'] })).toThrow(/trustedProxies\.0: must be an IP address or CIDR range/);
  });

  it('wait longer for a function than the function itself may take', () => {
    expect(settings.limits.readTimeoutSeconds).toBeGreaterThan(functionTimeoutSeconds);
  });

  it('refuse a host with a space, naming the field', () => {
    expect(() => parseGatewaySettings({ host: 'knfn example.com' })).toThrow(/^knative\/gateway\/settings\.json is invalid:\n {2}host: must be a lowercase DNS name/);
    expect(() => parseGatewaySettings({ host: 'https://knfn.example.com' })).toThrow(/host: /);
    expect(() => parseGatewaySettings({ host: '10.0.0.1' })).toThrow(/host: /);
  });

  it('refuse a read timeout the functions outlast, naming the field', () => {
    expect(() => parseGatewaySettings({ limits: { readTimeoutSeconds: 30 } })).toThrow(
      /limits\.readTimeoutSeconds: must exceed the functions' timeoutSeconds \(30\) plus a cold start/,
    );
    expect(parseGatewaySettings({ limits: { readTimeoutSeconds: 31 } }).limits).toMatchObject({ readTimeoutSeconds: 31, connectTimeoutSeconds: 5 });
  });

  it('refuse a misspelt field instead of ignoring it', () => {
    expect(() => parseGatewaySettings({ limits: { readTimeout: 90 } })).toThrow(/limits: Unrecognized key: "readTimeout"/);
    expect(() => parseGatewaySettings({ tls: { secretname: 'gateway-tls' } })).toThrow(/tls\.secretName: /);
  });

  it('refuse a single replica, which the disruption budget would pin during a drain', () => {
    expect(() => parseGatewaySettings({ replicas: 1 })).toThrow(/replicas: must be at least 2/);
  });

  it('refuse a file that is not JSON, naming it', () => {
    const directory = mkdtempSync(join(tmpdir(), 'knfn-settings-'));
    try {
      writeFileSync(join(directory, 'settings.json'), '{ host: "x" }');
      expect(() => readGatewaySettings(join(directory, 'settings.json'))).toThrow(/^knative\/gateway\/settings\.json is not JSON/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('the gateway Ingress', () => {
  const ingressFor = (tls: unknown, ingressClassName = 'nginx') =>
    gatewayResources(allFunctions, parseGatewaySettings({ host: 'api.example.org', ingressClassName, tls })).find(({ file }) => file === 'ingress.yaml')?.object.toJSON() as IIngress;

  it('serves the host from settings, everything under / to the gateway Service', () => {
    expect(ingress.spec?.ingressClassName).toBe(settings.ingressClassName);
    expect(ingress.spec?.rules).toEqual([
      { host: settings.host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'gateway', port: { name: 'http' } } } }] } },
    ]);
  });

  it('asks cert-manager for a certificate when a ClusterIssuer is named', () => {
    const issued = ingressFor({ clusterIssuer: 'letsencrypt-prod', secretName: 'gateway-tls' });
    expect(issued.metadata?.annotations?.['cert-manager.io/cluster-issuer']).toBe('letsencrypt-prod');
    expect(issued.spec?.tls).toEqual([{ hosts: ['api.example.org'], secretName: 'gateway-tls' }]);
  });

  it('uses an existing TLS Secret without cert-manager', () => {
    const named = ingressFor({ secretName: 'my-certificate' });
    expect(named.metadata?.annotations?.['cert-manager.io/cluster-issuer']).toBeUndefined();
    expect(named.spec?.tls).toEqual([{ hosts: ['api.example.org'], secretName: 'my-certificate' }]);
  });

  it('is plain http without TLS settings', () => {
    const plain = ingressFor(null);
    expect(plain.spec?.tls).toBeUndefined();
    expect(plain.metadata?.annotations?.['cert-manager.io/cluster-issuer']).toBeUndefined();
  });

  it("raises ingress-nginx's own body and timeout limits to the gateway's, and leaves other controllers alone", () => {
    expect(ingress.metadata?.annotations).toEqual({
      'nginx.ingress.kubernetes.io/proxy-body-size': String(settings.limits.maxBodyBytes),
      'nginx.ingress.kubernetes.io/proxy-read-timeout': String(settings.limits.connectTimeoutSeconds + settings.limits.readTimeoutSeconds),
      'nginx.ingress.kubernetes.io/proxy-send-timeout': String(settings.limits.sendTimeoutSeconds),
    });
    expect(ingressFor(null, 'traefik').metadata?.annotations).toBeUndefined();
  });
});

describe('the gateway nginx.conf', () => {
  it('is what the renderer makes of the settings (run npm run manifests)', () => {
    expect(nginxConf).toBe(renderNginxConfig(gatewayNginxSettings(allFunctions, settings)));
  });

  it('sends each public function to its cluster-local route with that Host, and never an internal one', () => {
    const upstreams = gatewayNginxSettings(allFunctions, settings).upstreams;
    expect(Object.keys(upstreams).sort()).toEqual([...publicFunctions].sort());
    expect(upstreams['pingpong']).toEqual({ address: 'pingpong.knfn.svc.cluster.local:80', host: 'pingpong.knfn.svc.cluster.local' });
    for (const name of publicFunctions) expect(nginxConf, name).toContain(`${name}.knfn.svc.cluster.local`);
    expect(internalFunctions).toContain('message-worker');
    for (const name of internalFunctions) expect(nginxConf, name).not.toContain(name);
    expect(nginxConf).not.toContain('/_events');
  });

  it('routes every declared path of the public functions', () => {
    const routes = gatewayNginxSettings(allFunctions, settings).routes;
    expect(routes.map((route) => `${route.function} ${route.path}`).sort()).toEqual(
      allFunctions.filter((definition) => !definition.internal).flatMap((definition) => definition.routes.map((path) => `${definition.name} ${path}`)).sort(),
    );
    expect(routes.map((route) => route.path)).toContain('/pingpong');
  });

  it('passes nginx -t, with only the resolver changed for this machine', () => {
    // nginx resolves a `resolver` given by name once at start-up, and kube-dns's name resolves
    // only in a cluster; the same render with an IP must differ in that line alone.
    const local = renderNginxConfig({ ...gatewayNginxSettings(allFunctions, settings), resolver: { ...settings.resolver, address: '127.0.0.1' } });
    const clusterLines = nginxConf.split('\n');
    const localLines = local.split('\n');
    expect(localLines).toHaveLength(clusterLines.length);
    const changed = localLines.filter((line, index) => line !== clusterLines[index]);
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatch(/^\s*resolver "127\.0\.0\.1" valid=30s;$/);

    const binary = findNginx();
    if (binary === undefined) throw new Error('nginx is needed to check the gateway config: apt-get install nginx');
    const directory = mkdtempSync(join(tmpdir(), 'knfn-nginx-'));
    try {
      writeFileSync(join(directory, 'nginx.conf'), configForNginx(local, binary));
      // stdout to /dev/null: nginx opens /dev/stdout for the access log, which fails on the socket
      // a piped stdout is here (a container's stdout is a pipe or file).
      const result = spawnSync(binary, ['-t', '-p', directory, '-e', 'stderr', '-c', join(directory, 'nginx.conf')], {
        encoding: 'utf8',
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      expect(result.stderr).toContain('test is successful');
      expect(result.status).toBe(0);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('the gateway Deployment', () => {
  it('runs a pinned nginx image, never latest', () => {
    expect(container.image).toBe(gatewayImage);
    // name[:tag][@sha256:digest] with at least one of the two, and the tag not `latest`.
    const match = /^(?<name>[a-z0-9./-]+)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@sha256:[a-f0-9]{64})?$/.exec(container.image ?? '');
    expect(match).not.toBeNull();
    expect(container.image).toMatch(/:[\w][\w.-]*$|@sha256:[a-f0-9]{64}$/);
    expect(match?.groups?.['tag']).not.toBe('latest');
    expect(match?.groups?.['name']).toBe('nginxinc/nginx-unprivileged');
  });

  it('rolls its pods when nginx.conf changes: the template carries its sha256', () => {
    const expected = createHash('sha256').update(nginxConf).digest('hex');
    expect(deployment.spec?.template.metadata?.annotations?.[configChecksumAnnotation]).toBe(expected);
    const other = gatewayResources(allFunctions, parseGatewaySettings({ limits: { maxBodyBytes: 2048 } })).find(({ file }) => file === 'deployment.yaml')?.object.toJSON() as IDeployment;
    expect(other.spec?.template.metadata?.annotations?.[configChecksumAnnotation]).not.toBe(expected);
  });

  it('mounts the config over nginx.conf and gives nginx a writable /tmp on a read-only root', () => {
    expect(container.command).toEqual(['nginx', '-g', 'daemon off;']);
    expect(container.volumeMounts).toEqual([
      { name: 'config', mountPath: '/etc/nginx/nginx.conf', subPath: 'nginx.conf', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    expect(deployment.spec?.template.spec?.volumes).toEqual([
      { name: 'config', configMap: { name: configMap.metadata?.name } },
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ]);
    const { files } = gatewayNginxSettings(allFunctions, settings);
    expect(files.pid.startsWith('/tmp/')).toBe(true);
    expect(files.tempDir.startsWith('/tmp')).toBe(true);
  });

  it('probes /healthz on 8081 and serves on 8080', () => {
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe?.httpGet?.path).toBe('/healthz');
      expect(containerPort(probe?.httpGet?.port)).toBe(8081);
    }
    expect(gatewayNginxSettings(allFunctions, settings)).toMatchObject({ listen: { port: 8080 }, probePort: 8081 });
    expect(containerPort('http')).toBe(8080);
  });

  it('runs as uid 101 with no privileges, no API token and the settings\' replicas spread over nodes', () => {
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 101,
      runAsGroup: 101,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(deployment.spec?.template.spec?.automountServiceAccountToken).toBe(false);
    expect(deployment.spec?.replicas).toBe(settings.replicas);
    expect(deployment.spec?.template.spec?.topologySpreadConstraints?.[0]).toMatchObject({ topologyKey: 'kubernetes.io/hostname', maxSkew: 1 });
    expect(Object.keys(container.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources?.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(podLabels).toEqual({ 'app.kubernetes.io/name': 'gateway', 'app.kubernetes.io/part-of': 'knfn', 'app.kubernetes.io/component': 'gateway' });
  });

  it('outlives the slowest request it holds when stopped', () => {
    expect(deployment.spec?.template.spec?.terminationGracePeriodSeconds).toBeGreaterThan(settings.limits.readTimeoutSeconds);
  });
});

describe('the gateway Service and disruption budget', () => {
  it('expose port 80 to the pods\' 8080 inside the cluster only', () => {
    expect(service.spec?.type).toBe('ClusterIP');
    expect(service.spec?.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
    expect(containerPort(service.spec?.ports?.[0]?.targetPort)).toBe(8080);
    expect(podLabels).toMatchObject(service.spec?.selector ?? { none: 'selector' });
  });

  it('keep one pod serving through a node drain', () => {
    expect(budget.spec?.minAvailable).toBe(1);
    expect(podLabels).toMatchObject(budget.spec?.selector?.matchLabels ?? { none: 'selector' });
    expect(deployment.spec?.selector.matchLabels).toEqual(budget.spec?.selector?.matchLabels);
  });
});

describe('strict schema check', () => {
  it('finds no unknown field in the gateway objects', () => {
    expect(strictSchemaErrors(rendered)).toEqual([]);
  });

  it('names a misspelt probe field that validate() lets through', () => {
    const typo = structuredClone(deployment) as unknown as { spec: { template: { spec: { containers: { readinessProbe: Record<string, unknown> }[] } } } };
    const probe = typo.spec.template.spec.containers[0]?.readinessProbe ?? {};
    probe['periodSecond'] = probe['periodSeconds'];
    delete probe['periodSeconds'];
    expect(() => new Deployment(typo as unknown as IDeployment).validate()).not.toThrow();
    expect(strictSchemaErrors([typo])).toEqual([
      expect.stringMatching(/^Deployment gateway: spec\.template\.spec\.containers\[0\]\.readinessProbe\.periodSecond: Object literal may only specify known properties/),
    ]);
  });

  it('names a misspelt Ingress rule field', () => {
    const typo = structuredClone(ingress) as unknown as { spec: { rules: Record<string, unknown>[] } };
    const rule = typo.spec.rules[0] ?? {};
    rule['hosst'] = rule['host'];
    delete rule['host'];
    expect(() => new Ingress(typo as unknown as IIngress).validate()).not.toThrow();
    expect(strictSchemaErrors([typo])).toEqual([expect.stringMatching(/^Ingress gateway: spec\.rules\[0\]\.hosst: /)]);
  });
});

it('npm run manifests keeps settings.json and removes stale gateway files', () => {
  const directory = mkdtempSync(join(tmpdir(), 'knfn-manifests-'));
  try {
    mkdirSync(join(directory, gatewayDir), { recursive: true });
    const custom = '{ "host": "mine.example.org" }\n';
    writeFileSync(join(directory, gatewaySettingsFile), custom);
    writeFileSync(join(directory, gatewayDir, 'renamed-away.yaml'), 'kind: Stale\n');
    const written = writeManifests(directory);
    expect(readFileSync(join(directory, gatewaySettingsFile), 'utf8')).toBe(custom);
    expect(existsSync(join(directory, gatewayDir, 'renamed-away.yaml'))).toBe(false);
    expect(written).toContain(join(gatewayDir, 'deployment.yaml'));
    expect(readFileSync(join(directory, gatewayDir, 'kustomization.yaml'), 'utf8')).toMatch(/^# Generated by `npm run manifests`/);
    expect(readFileSync(join(directory, gatewayDir, 'ingress.yaml'), 'utf8')).toContain('- host: mine.example.org\n');
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
