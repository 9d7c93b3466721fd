import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';

/*
 * The parts of the RabbitMQ Cluster Operator's API (rabbitmq.com/v1beta1) and of eventing-rabbitmq's
 * broker config (eventing.knative.dev/v1alpha1) that knative/500-eventing.yaml uses, field names as
 * their Go json tags spell them. No kubernetes-models package covers them; strict-schema.ts checks
 * the rendered objects against these types, so a misspelt field is an error. Fields we do not use
 * are left out on purpose, as in scripts/flagger.ts.
 */

export interface IRabbitmqCluster {
  apiVersion: 'rabbitmq.com/v1beta1';
  kind: 'RabbitmqCluster';
  metadata: IObjectMeta & { name: string; namespace: string };
  spec: {
    replicas?: number;
    image?: string;
    persistence?: { storageClassName?: string; storage?: string };
    resources?: IResourceRequirements;
  };
}

export interface IRabbitmqBrokerConfig {
  apiVersion: 'eventing.knative.dev/v1alpha1';
  kind: 'RabbitmqBrokerConfig';
  metadata: IObjectMeta & { name: string; namespace: string };
  spec: {
    /** Either a RabbitmqCluster managed by the operator (name, namespace) or a connection Secret. */
    rabbitmqClusterReference: { name?: string; namespace?: string; connectionSecret?: { name: string } };
    queueType?: 'quorum' | 'classic';
  };
}

/** What the CRDs' OpenAPI schemas require beyond the field names (strict-schema.ts checks those). */
export function validateRabbitmqCluster(data: unknown): void {
  const object = data as IRabbitmqCluster;
  if (object.spec === undefined) throw new Error('RabbitmqCluster: spec is required');
  if (object.spec.replicas !== undefined && (!Number.isInteger(object.spec.replicas) || object.spec.replicas < 0)) {
    throw new Error('RabbitmqCluster: spec.replicas must be a non-negative integer');
  }
}

export function validateRabbitmqBrokerConfig(data: unknown): void {
  const reference = (data as IRabbitmqBrokerConfig).spec?.rabbitmqClusterReference;
  if (reference === undefined) throw new Error('RabbitmqBrokerConfig: spec.rabbitmqClusterReference is required');
  if ((reference.name === undefined) === (reference.connectionSecret === undefined)) {
    throw new Error('RabbitmqBrokerConfig: rabbitmqClusterReference needs exactly one of name and connectionSecret');
  }
}
