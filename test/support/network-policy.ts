/**
 * A small evaluator of Kubernetes NetworkPolicies (networking.k8s.io/v1) for tests, following the
 * API's semantics: a pod is isolated for ingress (egress) when a policy in its namespace selects it
 * with that policy type, and then a connection is allowed only if some such policy's rule admits
 * the peer and the port; a connection needs both the source's egress and the destination's
 * ingress. Peers: `podSelector` alone means pods of the policy's namespace, `namespaceSelector`
 * alone every pod of the matching namespaces, both together the matching pods of the matching
 * namespaces; `ipBlock` matches destinations outside the cluster. An empty `from`/`to` or `ports`
 * list is "any". Named ports resolve against the destination pod's container ports.
 */

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface PolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicy {
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace?: string };
  spec: {
    podSelector: LabelSelector;
    policyTypes?: ('Ingress' | 'Egress')[];
    ingress?: { from?: Peer[]; ports?: PolicyPort[] }[];
    egress?: { to?: Peer[]; ports?: PolicyPort[] }[];
  };
}

/** A pod as policies see it; `namespace` undefined with `external` set is an address outside the cluster. */
export interface Endpoint {
  namespace: string;
  labels: Record<string, string>;
  /** Container port names, for policies that name a port. */
  ports?: Record<string, number>;
  /** Outside the cluster (a JWKS host): only ipBlock peers or peer-less rules match it. */
  external?: boolean;
}

export interface Connection {
  from: Endpoint;
  to: Endpoint;
  port: number;
  protocol?: 'TCP' | 'UDP';
}

export function matchesSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const value = labels[key];
    if (operator === 'In' && !(has && values.includes(value as string))) return false;
    if (operator === 'NotIn' && has && values.includes(value as string)) return false;
    if (operator === 'Exists' && !has) return false;
    if (operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** A namespace's labels: Kubernetes sets kubernetes.io/metadata.name on every namespace. */
function namespaceLabels(namespace: string): Record<string, string> {
  return { 'kubernetes.io/metadata.name': namespace };
}

function peerMatches(peer: Peer, policyNamespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock) return endpoint.external === true;
  if (endpoint.external) return false;
  if (peer.namespaceSelector) {
    if (!matchesSelector(peer.namespaceSelector, namespaceLabels(endpoint.namespace))) return false;
  } else if (endpoint.namespace !== policyNamespace) {
    return false;
  }
  return peer.podSelector === undefined || matchesSelector(peer.podSelector, endpoint.labels);
}

function portMatches(ports: PolicyPort[] | undefined, connection: Connection): boolean {
  if (ports === undefined || ports.length === 0) return true;
  const protocol = connection.protocol ?? 'TCP';
  return ports.some((candidate) => {
    if ((candidate.protocol ?? 'TCP') !== protocol) return false;
    if (candidate.port === undefined) return true;
    const number = typeof candidate.port === 'number' ? candidate.port : connection.to.ports?.[candidate.port];
    if (number === undefined) return false;
    return candidate.endPort === undefined ? connection.port === number : connection.port >= number && connection.port <= candidate.endPort;
  });
}

function policyTypes(policy: NetworkPolicy): ('Ingress' | 'Egress')[] {
  // The API's default: Ingress always, Egress when the policy has egress rules.
  return policy.spec.policyTypes ?? (policy.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
}

function selecting(policies: readonly NetworkPolicy[], endpoint: Endpoint, type: 'Ingress' | 'Egress'): NetworkPolicy[] {
  if (endpoint.external) return [];
  return policies.filter(
    (policy) => (policy.metadata.namespace ?? 'default') === endpoint.namespace && policyTypes(policy).includes(type) && matchesSelector(policy.spec.podSelector, endpoint.labels),
  );
}

/** Whether the policies let `connection` through (both the source's egress and the destination's ingress). */
export function isAllowed(policies: readonly NetworkPolicy[], connection: Connection): boolean {
  const egress = selecting(policies, connection.from, 'Egress');
  const egressAllowed =
    egress.length === 0 ||
    egress.some((policy) =>
      (policy.spec.egress ?? []).some(
        (rule) =>
          (rule.to === undefined || rule.to.length === 0 || rule.to.some((peer) => peerMatches(peer, policy.metadata.namespace ?? 'default', connection.to))) &&
          portMatches(rule.ports, connection),
      ),
    );
  if (!egressAllowed) return false;
  const ingress = selecting(policies, connection.to, 'Ingress');
  return (
    ingress.length === 0 ||
    ingress.some((policy) =>
      (policy.spec.ingress ?? []).some(
        (rule) =>
          (rule.from === undefined || rule.from.length === 0 || rule.from.some((peer) => peerMatches(peer, policy.metadata.namespace ?? 'default', connection.from))) &&
          portMatches(rule.ports, connection),
      ),
    )
  );
}
