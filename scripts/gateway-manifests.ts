import { createHash } from 'node:crypto';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import type { Model } from '@kubernetes-models/base';
import { z } from 'zod';
import type { FunctionDefinition } from '../runtime/define-function.ts';
import { renderNginxConfig } from '../runtime/gateway/nginx-config.ts';
import { isAddressOrRange } from '../runtime/rate-limit/client-address.ts';
import type { NginxGatewaySettings } from '../runtime/gateway/nginx-config.ts';
import { assertDistinctRoutes, publicRoutes } from '../runtime/gateway/public-routes.ts';
import { cluster, functionHost, functionTimeoutSeconds } from './cluster.ts';
import { parseSettings, readSettingsFile } from './settings-file.ts';

export const gatewayDir = 'knative/gateway';
/** The one file under knative/gateway/ that people edit; everything else there is generated from it. */
export const gatewaySettingsFile = `${gatewayDir}/settings.json`;

/**
 * Pinned, never `latest`: a new nginx arrives by editing this line (or an overlay's `images:`).
 * The unprivileged build listens as uid 101 and keeps the official image's STOPSIGNAL SIGQUIT,
 * so a stopping pod finishes the requests it holds.
 */
export const gatewayImage = 'nginxinc/nginx-unprivileged:1.28.0-alpine';

const uid = 101;
const ports = { http: 8080, health: 8081 } as const;
/** Annotation on the pod template: a changed nginx.conf changes it, which rolls the pods. */
export const configChecksumAnnotation = 'knfn.dev/nginx-conf-sha256';
/**
 * Fixed: nginx's `auto` counts the node's CPUs, not the pod's CPU limit, and one event loop
 * proxies far more than one CPU's worth of requests anyway.
 */
const workerProcesses = 1;
/** Long enough for the Service endpoints and the Ingress controller to drop a stopping pod. */
const preStopSleepSeconds = 5;

/** RFC 1123 subdomain: what Kubernetes accepts as a Secret or ClusterIssuer name. */
const resourceName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a lowercase DNS name: a-z, 0-9, "-" and "."');

const seconds = z.number().int('must be a whole number of seconds').min(1);

/** What a user sets in knative/gateway/settings.json; every field has a default. */
export const gatewaySettingsSchema = z.strictObject({
  /** The one public host every route answers on. */
  host: z
    .string()
    .max(253)
    .regex(
      /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/,
      'must be a lowercase DNS name with a dot, e.g. api.example.com (no scheme, port, path or IP)',
    )
    .default('knfn.example.com'),
  /** The Ingress controller in front of the gateway. */
  ingressClassName: resourceName.default('nginx'),
  /**
   * null: plain http. `{ secretName }`: an existing TLS Secret in the namespace. `{ clusterIssuer,
   * secretName }`: cert-manager issues the certificate into that Secret.
   */
  tls: z.strictObject({ secretName: resourceName, clusterIssuer: resourceName.optional() }).nullable().default(null),
  replicas: z.number().int().min(2, 'must be at least 2: the PodDisruptionBudget keeps 1 serving while a node drains').default(2),
  limits: z
    .strictObject({
      /** The same default as the functions' MAX_BODY_BYTES: a larger body is refused at the door. */
      maxBodyBytes: z.number().int().min(1).default(1024 * 1024),
      connectTimeoutSeconds: seconds.default(5),
      /** Spans a cold start plus the function's own timeout, so the function answers first. */
      readTimeoutSeconds: seconds
        .gt(functionTimeoutSeconds, `must exceed the functions' timeoutSeconds (${functionTimeoutSeconds}) plus a cold start`)
        .default(60),
      sendTimeoutSeconds: seconds.default(60),
      /** Between two reads of a request body: a client trickling its body is cut off. */
      clientBodyTimeoutSeconds: seconds.default(15),
    })
    .prefault({}),
  /** DNS for the functions' names, which nginx looks up in the background, so it starts before any function exists. */
  resolver: z
    .strictObject({
      address: z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?$/, 'must be a DNS name or IPv4 address, optionally with :port')
        .default('kube-dns.kube-system.svc.cluster.local'),
      validSeconds: seconds.default(30),
    })
    .prefault({}),
  /**
   * The addresses of what sits in front of the gateway (the Ingress controller's pods): nginx takes
   * the client from their X-Forwarded-For and hands it on as the only X-Forwarded-For, so each
   * client has its own rate-limit budget. Private ranges by default, the pod network in most
   * clusters; narrow it to the Ingress controller's pod range where other private hosts can reach
   * the gateway. Empty: every client behind one Ingress pod shares that pod's budget.
   */
  trustedProxies: z
    .array(z.string().refine(isAddressOrRange, 'must be an IP address or CIDR range, e.g. 10.0.0.0/8'))
    .default(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
});

export type GatewaySettings = z.infer<typeof gatewaySettingsSchema>;

/** Parses settings, refusing a bad value with a message naming each wrong field. */
export function parseGatewaySettings(input: unknown, source = gatewaySettingsFile): GatewaySettings {
  return parseSettings(gatewaySettingsSchema, input, source);
}

export function readGatewaySettings(path: string | URL = new URL(`../${gatewaySettingsFile}`, import.meta.url)): GatewaySettings {
  return readSettingsFile(gatewaySettingsSchema, path, gatewaySettingsFile);
}

/** What the gateway's nginx.conf is rendered from: every public route, to its function's cluster-local route. */
export function gatewayNginxSettings(functions: readonly FunctionDefinition[], settings: GatewaySettings): NginxGatewaySettings {
  assertDistinctRoutes(functions);
  const routes = publicRoutes(functions);
  const names = [...new Set(routes.map((route) => route.function))];
  return {
    listen: { port: ports.http },
    probePort: ports.health,
    routes,
    // The Host header is what the Knative ingress (Kourier, Istio, Contour alike) routes on.
    upstreams: Object.fromEntries(names.map((name) => [name, { address: `${functionHost(name)}:80`, host: functionHost(name) }])),
    resolver: settings.resolver,
    limits: settings.limits,
    realIpFrom: settings.trustedProxies,
    files: { pid: '/tmp/nginx.pid', tempDir: '/tmp' },
    workerProcesses,
    accessLog: 'stdout',
  };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** One generated file under knative/gateway/ and the object it holds. */
export interface GatewayResource {
  file: string;
  object: Model<unknown>;
}

/** The gateway's objects, each validated against its schema, in the order they are listed. */
export function gatewayResources(functions: readonly FunctionDefinition[], settings: GatewaySettings): GatewayResource[] {
  const name = 'gateway';
  const { namespace } = cluster;
  const selector = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': cluster.partOf };
  const labels = { ...selector, 'app.kubernetes.io/component': 'gateway' };
  const nginxConf = renderNginxConfig(gatewayNginxSettings(functions, settings));
  const { limits } = settings;

  const configMap = new ConfigMap({
    metadata: { name, namespace, labels },
    data: { 'nginx.conf': nginxConf },
  });

  const healthProbe = (periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path: '/healthz', port: 'health' },
    periodSeconds,
    failureThreshold,
  });
  const deployment = new Deployment({
    metadata: { name, namespace, labels },
    spec: {
      replicas: settings.replicas,
      selector: { matchLabels: selector },
      // A new pod is ready before an old one goes: the public host never loses capacity.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels, annotations: { [configChecksumAnnotation]: sha256(nginxConf) } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          // The preStop pause, then SIGQUIT lets nginx finish the slowest request it may hold.
          terminationGracePeriodSeconds: preStopSleepSeconds + limits.connectTimeoutSeconds + limits.readTimeoutSeconds,
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } },
          ],
          containers: [
            {
              name: 'nginx',
              image: gatewayImage,
              // Straight to nginx: the image's entrypoint scripts try to rewrite files under
              // /etc/nginx, which the read-only root refuses, and the config needs none of them.
              command: ['nginx', '-g', 'daemon off;'],
              ports: [
                { name: 'http', containerPort: ports.http },
                { name: 'health', containerPort: ports.health },
              ],
              readinessProbe: healthProbe(5, 2),
              livenessProbe: healthProbe(10, 3),
              lifecycle: { preStop: { exec: { command: ['sleep', String(preStopSleepSeconds)] } } },
              resources: {
                requests: { cpu: '50m', memory: '32Mi' },
                limits: { cpu: '1', memory: '128Mi' },
              },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: uid,
                runAsGroup: uid,
                readOnlyRootFilesystem: true,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [
                // A subPath mount never sees ConfigMap updates: the checksum annotation rolls the pods instead.
                { name: 'config', mountPath: '/etc/nginx/nginx.conf', subPath: 'nginx.conf', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name } },
            // The pid file and nginx's temp paths (bodies and responses are streamed, not spooled).
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  });

  const service = new Service({
    metadata: { name, namespace, labels },
    spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  });

  const ingress = new Ingress({
    metadata: { name, namespace, labels, ...ingressAnnotations(settings) },
    spec: {
      ingressClassName: settings.ingressClassName,
      ...(settings.tls === null ? {} : { tls: [{ hosts: [settings.host], secretName: settings.tls.secretName }] }),
      rules: [
        {
          host: settings.host,
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { name: 'http' } } } }] },
        },
      ],
    },
  });

  const disruptionBudget = new PodDisruptionBudget({
    metadata: { name, namespace, labels },
    spec: { minAvailable: 1, selector: { matchLabels: selector } },
  });

  const resources: GatewayResource[] = [
    { file: 'configmap.yaml', object: configMap },
    { file: 'deployment.yaml', object: deployment },
    { file: 'service.yaml', object: service },
    { file: 'ingress.yaml', object: ingress },
    { file: 'pod-disruption-budget.yaml', object: disruptionBudget },
  ];
  for (const { object } of resources) object.validate();
  return resources;
}

/**
 * cert-manager's issuer, and for ingress-nginx the gateway's own limits: its defaults (1m body,
 * 60 s read) would otherwise refuse a body the gateway allows, or answer 504 before the gateway
 * does. Other controllers ignore the `nginx.ingress.kubernetes.io` keys.
 */
function ingressAnnotations(settings: GatewaySettings): { annotations?: Record<string, string> } {
  const annotations: Record<string, string> = {};
  if (settings.tls?.clusterIssuer !== undefined) annotations['cert-manager.io/cluster-issuer'] = settings.tls.clusterIssuer;
  if (settings.ingressClassName === 'nginx') {
    const { limits } = settings;
    annotations['nginx.ingress.kubernetes.io/proxy-body-size'] = String(limits.maxBodyBytes);
    annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'] = String(limits.connectTimeoutSeconds + limits.readTimeoutSeconds);
    annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'] = String(limits.sendTimeoutSeconds);
  }
  return Object.keys(annotations).length === 0 ? {} : { annotations };
}
