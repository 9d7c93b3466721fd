import { readFileSync } from 'node:fs';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { cluster, connectionBudget, postgresImage } from './cluster.ts';
import { migrationsTable } from '../db/database.ts';
import type { Release } from './release.ts';

export const migrateDir = 'knative/migrate';

/** How long the migration Job waits for PostgreSQL and its role; within its activeDeadlineSeconds. */
const migrateWaitSeconds = 240;
const migrationsJournal = new URL('../migrations/meta/_journal.json', import.meta.url);

/** How many migrations this tree ships: the grants Job waits until the migration recorded as many. */
export function shippedMigrations(journal = readFileSync(migrationsJournal, 'utf8')): number {
  const { entries } = JSON.parse(journal) as { entries?: unknown[] };
  if (!Array.isArray(entries) || entries.length === 0) throw new Error('migrations/meta/_journal.json lists no migration');
  return entries.length;
}

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
                // The schema's owner: what it creates is granted to the other roles by default.
                { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: cluster.databaseSecret.name, key: cluster.databaseRoles.owner.urlKey } } },
                { name: 'DATABASE_WS_PROXY', value: cluster.wsProxy },
                // One connection (its share of connectionBudget): the migrator uses one client.
                { name: 'DATABASE_POOL_MAX', value: String(connectionBudget.reserve.migration) },
                { name: 'DATABASE_CONNECT_TIMEOUT_MS', value: '10000' },
                // Applied in one `kubectl apply -k`, PostgreSQL and the owner role (the roles Job) may
                // come up after this Job starts: it waits for them rather than failing its few retries.
                { name: 'MIGRATE_WAIT_MS', value: String(migrateWaitSeconds * 1000) },
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

/** The role bootstrap's SQL (db/roles.sql), shipped to its Jobs in this ConfigMap. */
export const rolesConfigMapName = 'db-roles';
const rolesSqlFile = new URL('../db/roles.sql', import.meta.url);

export function rolesConfigMap(sql = readFileSync(rolesSqlFile, 'utf8')): ConfigMap {
  const configMap = new ConfigMap({
    metadata: { name: rolesConfigMapName, namespace: cluster.namespace, labels: { 'app.kubernetes.io/name': 'db-roles', 'app.kubernetes.io/part-of': cluster.partOf } },
    data: { 'roles.sql': sql },
  });
  configMap.validate();
  return configMap;
}

/**
 * When db/roles.sql runs in a release: `roles` before the migration (the owner it runs as must
 * exist), `grants` after it (table grants such as the stats role's on request_stats need the
 * table). The script is idempotent, so both run the same file.
 */
export type RolesPhase = 'roles' | 'grants';

export function rolesJobName(release: Release, phase: RolesPhase): string {
  return `${phase}-${release.name}`;
}

/** What the role bootstrap's psql is given: the role names as variables, passwords from the Secret. */
export function rolesPsqlArgs(file: string, names: RoleNames = clusterRoleNames): string[] {
  return ['psql', '-v', 'ON_ERROR_STOP=1', '-v', `owner=${names.owner}`, '-v', `app=${names.app}`, '-v', `stats=${names.stats}`, '-v', `backup=${names.backup}`, '-f', file];
}

export type RoleNames = Record<keyof typeof cluster.databaseRoles, string>;

/** The cluster's role names; tests use their own, as roles are shared by every database of a server. */
export const clusterRoleNames: RoleNames = {
  owner: cluster.databaseRoles.owner.name,
  app: cluster.databaseRoles.app.name,
  stats: cluster.databaseRoles.stats.name,
  backup: cluster.databaseRoles.backup.name,
};

/**
 * Runs db/roles.sql as the superuser with psql, straight to PostgreSQL (its NetworkPolicy admits
 * component database-admin). Per release and phase like the migration Job: a Job is immutable, and
 * running the script again changes nothing but rotated passwords.
 */
export function rolesJob(release: Release, phase: RolesPhase): Job {
  const labels = { 'app.kubernetes.io/name': 'db-roles', 'app.kubernetes.io/part-of': cluster.partOf, 'app.kubernetes.io/component': 'database-admin' };
  const fromSecret = (name: string, key: string): IEnvVar => ({ name, valueFrom: { secretKeyRef: { name: cluster.databaseSecret.name, key } } });
  const roles = cluster.databaseRoles;
  const job = new Job({
    metadata: { name: rolesJobName(release, phase), namespace: cluster.namespace, labels },
    spec: {
      backoffLimit: 4,
      // The grants phase waits for the migration, which may itself wait up to migrateWaitSeconds.
      activeDeadlineSeconds: phase === 'grants' ? 600 : 300,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'psql',
              image: postgresImage,
              command: ['sh', '-c', waitBefore(phase), phase, ...rolesPsqlArgs('/roles/roles.sql')],
              env: [
                { name: 'PGHOST', value: cluster.postgresHost },
                { name: 'PGCONNECT_TIMEOUT', value: '10' },
                fromSecret('PGUSER', 'username'),
                fromSecret('PGPASSWORD', 'password'),
                fromSecret('PGDATABASE', 'database'),
                fromSecret('KNFN_OWNER_PASSWORD', roles.owner.passwordKey),
                fromSecret('KNFN_APP_PASSWORD', roles.app.passwordKey),
                fromSecret('KNFN_STATS_PASSWORD', roles.stats.passwordKey),
                fromSecret('KNFN_BACKUP_PASSWORD', roles.backup.passwordKey),
              ],
              resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
              securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'roles', mountPath: '/roles', readOnly: true }],
            },
          ],
          volumes: [{ name: 'roles', configMap: { name: rolesConfigMapName } }],
        },
      },
    },
  });
  job.validate();
  return job;
}

/**
 * What each phase waits for before running psql (`"$@"`), so one `kubectl apply -k` of every Job at
 * once still runs them in order: `roles` until PostgreSQL accepts connections, `grants` until the
 * migration recorded every migration this release ships. `npm run deploy` runs them one after the
 * other, so there neither waits.
 */
export function waitBefore(phase: RolesPhase, migrations = shippedMigrations()): string {
  const until =
    phase === 'roles'
      ? 'pg_isready -q -t 5'
      : `[ "$(psql -XtAc 'select count(*) from ${migrationsTable.migrationsSchema}.${migrationsTable.migrationsTable}' 2>/dev/null || echo 0)" -ge ${migrations} ]`;
  const what = phase === 'roles' ? 'PostgreSQL' : `the migration (${migrations} migrations)`;
  return `until ${until}; do echo "waiting for ${what}"; sleep 2; done; exec "$@"`;
}
