import { resolvesUpstreamNames } from '../../runtime/gateway/nginx-process.ts';

/**
 * The config as `binary` can check it. The cluster's nginx (1.28) re-resolves upstream names
 * (`server <name> resolve`); an older one (Debian 12's 1.22) rejects the parameter and would look
 * the cluster's names up while loading, so for it such a server becomes `127.0.0.1` on the same
 * port, after checking what nginx's own source requires of `resolve`: a shared `zone` in the same
 * upstream and a `resolver` in http{} (else nginx refuses to start). Every other line is still
 * checked by the real nginx.
 */
export function configForNginx(config: string, binary: string): string {
  if (resolvesUpstreamNames(binary)) return config;
  const hasResolver = /^\s*resolver \S+/m.test(config);
  return config.replace(/^( {2}upstream \S+ \{\n)([^}]*)(\n {2}\})$/gm, (block, open: string, body: string, close: string) => {
    if (!/\bresolve\b/.test(body)) return block;
    if (!/^\s*zone \S+ \S+;$/m.test(body)) throw new Error(`an upstream resolving names needs a zone:\n${block}`);
    if (!hasResolver) throw new Error(`an upstream resolving names needs a resolver in http{}:\n${block}`);
    return `${open}${body.replace(/^(\s*server )\S+?(:\d+)? resolve\b/gm, (_line, server: string, port = '') => `${server}127.0.0.1${port}`)}${close}`;
  });
}
