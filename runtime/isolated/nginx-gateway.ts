import type { NginxGatewaySettings } from '../gateway/nginx-config.ts';
import { renderNginxConfig } from '../gateway/nginx-config.ts';
import { findNginx, startNginx } from '../gateway/nginx-process.ts';
import { freePort } from './free-port.ts';
import { displayHost } from './public-gateway.ts';
import { batchLines } from './relay-lines.ts';
import type { PublicGateway, PublicGatewayOptions } from './public-gateway.ts';

type GatewayScript = typeof import('../../scripts/gateway-manifests.ts');

export const nginxBinary = findNginx;

/**
 * The cluster gateway's own nginx.conf (knative/gateway/, rendered from settings.json) with only
 * what must differ on one machine: the listen address, each upstream's address (the function's
 * local activator, while the Host stays its cluster-local name), no DNS resolver for those IP
 * literals (nor upstream `resolve`, so Debian's nginx 1.22 runs it as well as the cluster's 1.28),
 * no probe listener, and writable files in a temporary directory.
 */
export async function startNginxGateway(binary: string, options: PublicGatewayOptions): Promise<PublicGateway> {
  // Computed specifiers, as in bundles.ts: function bundles import the runtime and must not carry
  // the manifest generator.
  const scriptUrl = new URL('../../scripts/gateway-manifests.ts', import.meta.url).href;
  const { gatewayNginxSettings, readGatewaySettings } = (await import(scriptUrl)) as GatewayScript;
  const cluster = gatewayNginxSettings(options.functions, readGatewaySettings());

  const port = options.port === 0 ? await freePort() : options.port;
  const upstreams = Object.fromEntries(
    Object.entries(cluster.upstreams).map(([name, upstream]) => [name, { ...upstream, address: localAddress(options, name) }]),
  );
  const { log } = options;
  const accessLine = batchLines((lines) => process.stdout.write(lines));
  const local = (files: NginxGatewaySettings['files']): NginxGatewaySettings => {
    const { resolver: _clusterDns, probePort: _probes, ...shared } = cluster;
    return { ...shared, listen: { address: options.host, port }, upstreams, files, workerProcesses: 1 };
  };
  const nginx = await startNginx({
    binary,
    render: (files) => renderNginxConfig(local(files)),
    port,
    host: displayHost(options.host),
    // The access log is one JSON object per line already; anything on stderr is nginx's own word.
    onLine: (line, stream) => (stream === 'stdout' ? accessLine(line) : log.warn('gateway stderr', { line })),
  });
  void nginx.exited.then(({ code, signal }) => log.info('gateway exited', { code, signal }));
  return { url: `http://${displayHost(options.host)}:${port}`, kind: 'nginx', stop: () => nginx.stop() };
}

function localAddress(options: PublicGatewayOptions, name: string): string {
  const address = options.addresses.get(name);
  if (address === undefined) throw new Error(`the gateway routes to ${name}, which is not running here`);
  return address;
}
