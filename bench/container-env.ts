import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from './processes.ts';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

interface KnativeService {
  spec?: { template?: { spec?: { containers?: { env?: EnvVar[]; readinessProbe?: { httpGet?: { path?: string } } }[] } } };
}

const container = (name: string) => {
  const service = parse(readFileSync(join(projectRoot, 'knative', 'functions', `${name}.yaml`), 'utf8')) as KnativeService;
  return service.spec?.template?.spec?.containers?.[0];
};

/** The path a function's committed Knative Service names for its readiness probe, which the queue-proxy polls. */
export function readinessPath(name: string): string {
  const path = container(name)?.readinessProbe?.httpGet?.path;
  if (path === undefined) throw new Error(`knative/functions/${name}.yaml names no readinessProbe.httpGet.path`);
  return path;
}

export interface LocalServices {
  databaseUrl: string;
  redisUrl: string;
}

/**
 * A function's container environment as its committed Knative Service sets it, with local
 * stand-ins: DATABASE_URL is the bench's database, REDIS_URL the local Redis. The WebSocket proxy
 * is left out: the bench speaks plain TCP to the local PostgreSQL, as every figure before it did
 * (a local wsproxy in between would be one more process on the two CPUs). Secrets other than the
 * database URL have no use here (the local Redis has no password).
 */
export function containerEnv(name: string, local: LocalServices): Record<string, string> {
  const variables = container(name)?.env;
  if (variables === undefined) throw new Error(`knative/functions/${name}.yaml names no container env`);
  const env: Record<string, string> = {};
  for (const variable of variables) {
    if (variable.name === 'DATABASE_URL') env[variable.name] = local.databaseUrl;
    else if (variable.name === 'REDIS_URL') env[variable.name] = local.redisUrl;
    else if (variable.name === 'DATABASE_WS_PROXY' || variable.value === undefined) continue;
    else if (/\$\(|\.svc\.cluster\.local/.test(variable.value)) {
      throw new Error(`bench: no local stand-in for ${name}'s ${variable.name}=${variable.value}`);
    } else env[variable.name] = variable.value;
  }
  if (env['DATABASE_URL'] === undefined) env['DATABASE_URL'] = local.databaseUrl;
  return env;
}
