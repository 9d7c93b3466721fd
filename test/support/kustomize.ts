import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

/** Renders a kustomization as `kubectl apply -k` would, without a cluster. */
export function renderKustomization<T = unknown>(directory: string): T[] {
  const result = spawnSync('kubectl', ['kustomize', directory], { encoding: 'utf8' });
  if (result.error) {
    throw new Error(`kubectl is needed to render ${directory} (apt-get install kubernetes-client): ${result.error.message}`);
  }
  if (result.status !== 0) throw new Error(`kubectl kustomize ${directory} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((document) => document.toJSON() as T);
}
