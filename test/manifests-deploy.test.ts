import { describe, expect, it } from 'vitest';
import { deploySteps, formatStep, undeploySteps } from '../scripts/deploy.ts';

const commands = (steps: ReturnType<typeof deploySteps>) => steps.map((step) => step.args.join(' '));

describe('npm run deploy', () => {
  it('waits for the migration Job before applying the function Services', () => {
    const steps = commands(deploySteps());
    const partial = steps.indexOf('apply -k knative/ -l app.kubernetes.io/component!=function');
    const migrated = steps.indexOf('wait --for=condition=complete job/migrate -n knfn --timeout=300s');
    const full = steps.indexOf('apply -k knative/');
    expect(partial).toBeGreaterThan(steps.indexOf('delete job migrate -n knfn --ignore-not-found'));
    expect(migrated).toBeGreaterThan(partial);
    expect(full).toBeGreaterThan(migrated);
  });

  it('applies the gateway with the first apply and waits for its pods last', () => {
    const steps = commands(deploySteps());
    expect(steps.at(-1)).toBe('rollout status deployment/gateway -n knfn --timeout=120s');
  });

  it('prints shell-ready commands, quoting what the shell would mangle', () => {
    const printed = deploySteps().map(formatStep).join('\n');
    expect(printed).toContain("kubectl apply -k knative/ -l 'app.kubernetes.io/component!=function'");
  });
});

describe('npm run undeploy', () => {
  it('never deletes the namespace or the volumes labelled keep', () => {
    expect(commands(undeploySteps())).toEqual(['delete -k knative/ -l knfn.dev/keep!=true --ignore-not-found']);
  });
});
