import type { FunctionDefinition } from '../define-function.ts';
import type { GatewayRoute } from '../gateway/public-routes.ts';
import type { Logger } from '../logger.ts';
import { IsolatedConfigError } from './config.ts';
import { createGateway } from './gateway.ts';
import type { Instance } from './instance.ts';
import { closeServer, listen } from './listen.ts';
import { createRouteTable } from './route-table.ts';

export interface PublicGatewayOptions {
  mode: 'auto' | 'nginx' | 'node';
  /** The functions served, as the process entry composed them (runtime/ never imports functions/). */
  functions: readonly FunctionDefinition[];
  routes: readonly GatewayRoute[];
  /** Each function's activator, `127.0.0.1:port`: its cluster-local address here. */
  addresses: ReadonlyMap<string, string>;
  host: string;
  port: number;
  requestTimeoutMs: number;
  instances: ReadonlyMap<string, Instance>;
  log: Logger;
}

export interface PublicGateway {
  readonly url: string;
  readonly kind: 'nginx' | 'node';
  stop(): Promise<void>;
}

/**
 * The public port: the generated nginx gateway when nginx is installed (the cluster's own
 * configuration, only its upstream addresses local), else a Node stand-in with the same routes.
 */
export async function startPublicGateway(options: PublicGatewayOptions): Promise<PublicGateway> {
  const { startNginxGateway, nginxBinary } = await import('./nginx-gateway.ts');
  const binary = options.mode === 'node' ? undefined : nginxBinary();
  if (binary !== undefined) return startNginxGateway(binary, options);
  if (options.mode === 'nginx') {
    throw new IsolatedConfigError('ISOLATED_GATEWAY=nginx, but nginx is not installed: apt-get install nginx (or ISOLATED_GATEWAY=node)');
  }
  if (options.mode === 'auto') options.log.info('nginx is not installed: the public port is served by its Node stand-in (same routes)');
  return startNodeGateway(options);
}

async function startNodeGateway({ routes, instances, host, port, requestTimeoutMs, log }: PublicGatewayOptions): Promise<PublicGateway> {
  const server = createGateway({ routes: createRouteTable(routes), instances, requestTimeoutMs, log });
  const listening = await listen(server, port, host);
  server.on('error', (error) => log.error('server error', { error }));
  return { url: `http://${displayHost(host)}:${listening}`, kind: 'node', stop: () => closeServer(server) };
}

export function displayHost(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host;
}
