import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { cluster } from './manifests.ts';

/** One kubectl invocation; `why` is printed above it so a dry run reads as a runbook. */
export interface Step {
  why: string;
  args: string[];
}

const ns = ['-n', cluster.namespace];

/**
 * Applies knative/ in an order Knative cannot express: the migration Job must finish before any
 * function revision rolls out against the new schema.
 */
export function deploySteps(): Step[] {
  return [
    { why: 'namespace first, so the Secret check below can succeed', args: ['apply', '-f', 'knative/000-namespace.yaml'] },
    {
      why: 'the database Secret is created by hand (knative/README.md), never by the kustomization',
      args: ['get', 'secret', cluster.databaseSecret.name, ...ns, '-o', 'name'],
    },
    { why: "a Job's pod template is immutable: drop the previous migration run", args: ['delete', 'job', 'migrate', ...ns, '--ignore-not-found'] },
    {
      why: 'database, wsproxy, policies, migration Job, eventing, backups and the public gateway (not the functions yet)',
      args: ['apply', '-k', 'knative/', '-l', 'app.kubernetes.io/component!=function'],
    },
    { why: 'functions roll out only against a migrated schema', args: ['wait', '--for=condition=complete', 'job/migrate', ...ns, '--timeout=300s'] },
    { why: 'every function Service', args: ['apply', '-k', 'knative/'] },
    { why: 'report the first revision that fails to become ready', args: ['wait', '--for=condition=Ready', 'ksvc', '--all', ...ns, '--timeout=300s'] },
    { why: 'the public host answers once the gateway pods are ready', args: ['rollout', 'status', 'deployment/gateway', ...ns, '--timeout=120s'] },
  ];
}

/**
 * Deletes what the kustomization created except what holds data: the namespace and the backup
 * volume are labelled knfn.dev/keep, the StatefulSet's volume outlives it (retention: Retain), and
 * the hand-made Secret is not part of the kustomization at all.
 */
export function undeploySteps(): Step[] {
  return [
    {
      why: 'everything but the namespace, the database volume, the backups and the Secret',
      args: ['delete', '-k', 'knative/', '-l', 'knfn.dev/keep!=true', '--ignore-not-found'],
    },
  ];
}

export function formatStep(step: Step): string {
  return `# ${step.why}\nkubectl ${step.args.map((arg) => (/^[\w./=:,-]+$/.test(arg) ? arg : `'${arg}'`)).join(' ')}`;
}

function run(steps: Step[], dryRun: boolean): number {
  for (const step of steps) {
    process.stdout.write(`${formatStep(step)}\n`);
    if (dryRun) continue;
    const result = spawnSync('kubectl', step.args, { stdio: 'inherit' });
    if (result.error) {
      process.stderr.write(`kubectl could not be started: ${result.error.message}\n`);
      return 1;
    }
    if (result.status !== 0) return result.status ?? 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [action = 'deploy', ...flags] = process.argv.slice(2);
  const dryRun = flags.includes('--dry-run');
  if (action !== 'deploy' && action !== 'undeploy') {
    process.stderr.write('usage: tsx scripts/deploy.ts deploy|undeploy [--dry-run]\n');
    process.exit(2);
  }
  process.exit(run(action === 'deploy' ? deploySteps() : undeploySteps(), dryRun));
}
