import { Job } from 'kubernetes-models/batch/v1/Job';
import { cluster } from './cluster.ts';
import type { Release } from './release.ts';

export const migrateDir = 'knative/migrate';

/** The label every object of one release carries; `kubectl get revisions -L knfn.dev/release`. */
export const releaseLabel = 'knfn.dev/release';

/** The migration Job's name for a release: one Job per release, never reused for another image. */
export function migrationJobName(release: Release): string {
  return `migrate-${release.name}`;
}

/**
 * Applies the committed migrations before a release's functions roll out (they start with
 * MIGRATE_ON_START=false so cold starts stay short). A Job's pod template is immutable, so each
 * release has its own Job, named after it: applying the same release again leaves the finished
 * Job alone, and a new image never collides with an old Job. The migrator holds an advisory lock:
 * a second run waits, then applies nothing twice.
 */
export function migrationJob(release: Release): Job {
  const labels = { 'app.kubernetes.io/name': 'migrate', 'app.kubernetes.io/part-of': cluster.partOf, [releaseLabel]: release.name };
  const job = new Job({
    metadata: { name: migrationJobName(release), namespace: cluster.namespace, labels },
    spec: {
      // Each attempt is its own pod (restartPolicy Never), so a failed attempt's log stays
      // readable; npm run deploy waits for PostgreSQL and the wsproxy first, so a few suffice.
      backoffLimit: 3,
      activeDeadlineSeconds: 600,
      template: {
        // The wsproxy's NetworkPolicy admits component function and migrate.
        metadata: { labels: { ...labels, 'app.kubernetes.io/component': 'migrate' } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'migrate',
              image: release.image,
              command: ['node', 'dist/migrate.js'],
              env: [
                { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: cluster.databaseSecret.name, key: cluster.databaseSecret.urlKey } } },
                { name: 'DATABASE_WS_PROXY', value: cluster.wsProxy },
                { name: 'DATABASE_CONNECT_TIMEOUT_MS', value: '10000' },
              ],
              resources: {
                requests: { cpu: '50m', memory: '96Mi' },
                limits: { cpu: '1', memory: '256Mi' },
              },
              securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  });
  job.validate();
  return job;
}
