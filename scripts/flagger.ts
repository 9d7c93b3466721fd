import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';

/*
 * The parts of Flagger's API (flagger.app/v1beta1, pkg/apis/flagger/v1beta1 in fluxcd/flagger) that
 * the generated manifests use. No kubernetes-models package covers Flagger, so these are written
 * by hand, field names as Flagger's Go json tags spell them; the generator is typed by them and
 * test/support/strict-schema.ts checks the rendered files against them, so a misspelt field is an
 * error rather than a field Flagger silently ignores. Fields we do not use are left out on purpose:
 * the check then refuses them too, until someone adds them here from Flagger's API.
 */

/** `LocalObjectReference`: for the Knative provider only `serving.knative.dev/v1` `Service` is valid. */
export interface FlaggerTargetRef {
  apiVersion: 'serving.knative.dev/v1';
  kind: 'Service';
  name: string;
}

/** `CrossNamespaceObjectReference`. */
export interface FlaggerTemplateRef {
  name: string;
  namespace?: string;
}

/** `CanaryThresholdRange`: the check fails below `min` or above `max`. */
export interface FlaggerThresholdRange {
  min?: number;
  max?: number;
}

/** `CanaryMetric`. The names `request-success-rate` and `request-duration` select Flagger's built-in queries even with a templateRef. */
export interface FlaggerCanaryMetric {
  name: string;
  templateRef?: FlaggerTemplateRef;
  thresholdRange?: FlaggerThresholdRange;
  /** A Prometheus duration; `{{ interval }}` in the template's query. */
  interval?: string;
  templateVariables?: Record<string, string>;
}

export type FlaggerHookType =
  | 'confirm-rollout'
  | 'pre-rollout'
  | 'rollout'
  | 'confirm-promotion'
  | 'post-rollout'
  | 'event'
  | 'rollback'
  | 'confirm-traffic-increase';

/** `CanaryWebhook`; for the load tester `metadata` is `{ type: 'cmd', cmd }`. */
export interface FlaggerWebhook {
  name: string;
  type?: FlaggerHookType;
  url: string;
  /** Matches `^[0-9]+(m|s)`. */
  timeout?: string;
  metadata?: Record<string, string>;
  muteAlert?: boolean;
  retries?: number;
}

/** `CanaryAnalysis`. */
export interface FlaggerAnalysis {
  interval: string;
  /** Failed checks before a rollback. */
  threshold: number;
  stepWeights?: number[];
  stepWeight?: number;
  maxWeight?: number;
  iterations?: number;
  metrics?: FlaggerCanaryMetric[];
  webhooks?: FlaggerWebhook[];
}

export interface FlaggerCanarySpec {
  provider: 'knative';
  targetRef: FlaggerTargetRef;
  analysis: FlaggerAnalysis;
  /** Time for the canary Revision to make progress before a rollback (Flagger's default 600). */
  progressDeadlineSeconds?: number;
  skipAnalysis?: boolean;
  revertOnDeletion?: boolean;
  suspend?: boolean;
}

export interface ICanary {
  apiVersion: 'flagger.app/v1beta1';
  kind: 'Canary';
  metadata: IObjectMeta;
  spec: FlaggerCanarySpec;
}

/** `MetricTemplateProvider`, Prometheus only. */
export interface FlaggerMetricProvider {
  type: 'prometheus';
  address: string;
  secretRef?: { name: string };
  insecureSkipVerify?: boolean;
}

export interface IMetricTemplate {
  apiVersion: 'flagger.app/v1beta1';
  kind: 'MetricTemplate';
  metadata: IObjectMeta;
  spec: {
    provider: FlaggerMetricProvider;
    /** PromQL with Flagger's Go template functions: `{{ namespace }}`, `{{ route }}`, `{{ interval }}`, ... */
    query: string;
  };
}
