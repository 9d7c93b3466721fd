import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageVersion, parseRelease, parseRepository, ReleaseError } from './release.ts';

export const engines = ['docker', 'podman', 'buildah'] as const;
export type Engine = (typeof engines)[number];

export interface ImageOptions {
  repository: string;
  push: boolean;
  tool: Engine | undefined;
  allowDirty: boolean;
  dryRun: boolean;
}

const usage = 'usage: npm run image -- [--push] [--tool docker|podman|buildah] [--allow-dirty] [--dry-run] <registry>/<name>';

/** The command line, or the one line saying what is wrong with it. */
export function parseImageArgs(argv: readonly string[]): ImageOptions | string {
  const options: ImageOptions = { repository: '', push: false, tool: undefined, allowDirty: false, dryRun: false };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? '';
    if (arg === '--push') options.push = true;
    else if (arg === '--allow-dirty') options.allowDirty = true;
    else if (arg === '--dry-run') options.dryRun = true;
    else if (arg === '--tool' || arg.startsWith('--tool=')) {
      const tool = arg === '--tool' ? argv[++index] : arg.slice('--tool='.length);
      if (!engines.includes(tool as Engine)) return `--tool must be one of ${engines.join(', ')}`;
      options.tool = tool as Engine;
    } else if (arg.startsWith('-')) return `unknown option ${arg}`;
    else if (options.repository !== '') return `one repository only, got ${options.repository} and ${arg}`;
    else options.repository = arg;
  }
  if (options.repository === '') return 'no repository given, e.g. ghcr.io/you/knfn';
  if (/[:@]/.test(options.repository.slice(options.repository.lastIndexOf('/') + 1))) {
    return `${options.repository}: give the repository only; the tag is <package version>-<git commit>`;
  }
  try {
    parseRepository(options.repository);
  } catch (error) {
    if (error instanceof ReleaseError) return error.message;
    throw error;
  }
  return options;
}

/** The first container engine on PATH, in the order docker, podman, buildah. */
export function findEngine(env: NodeJS.ProcessEnv): Engine | undefined {
  const dirs = (env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '');
  return engines.find((engine) =>
    dirs.some((dir) => {
      try {
        accessSync(join(dir, engine), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

/** One call of the engine, printed with what it is for. */
interface EngineCall {
  why: string;
  args: string[];
}

/**
 * The engine calls: build the Dockerfile under a tag naming the version and commit, then (with
 * --push) push it. How the pushed digest is read differs by engine: podman and buildah write it
 * to `--digestfile`; for docker, the local image's RepoDigests gains `<repository>@<digest>` of
 * the manifest the registry stored once the push succeeded (`docker image inspect`), and the entry
 * of this repository is taken (an image pushed to several repositories has one for each).
 */
export function imageCalls(engine: Engine, reference: string, labels: Record<string, string>, push: boolean, digestFile: string): EngineCall[] {
  const build: EngineCall = {
    why: 'build the one image every function and the migration Job run',
    args: ['build', '-f', 'Dockerfile', '-t', reference, ...Object.entries(labels).flatMap(([key, value]) => ['--label', `${key}=${value}`]), '.'],
  };
  if (!push) return [build];
  if (engine === 'docker') {
    return [
      build,
      { why: 'push it', args: ['push', reference] },
      { why: 'the digest the registry stored', args: ['image', 'inspect', '--format', '{{json .RepoDigests}}', reference] },
    ];
  }
  return [build, { why: 'push it, writing the digest the registry stored', args: ['push', '--digestfile', digestFile, reference, `docker://${reference}`] }];
}

export interface ImageIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Let the engine write its build progress to the terminal itself. */
  inheritOutput: boolean;
}

class Refusal extends Error {}

function git(args: string[], io: ImageIo): string {
  const result = spawnSync('git', args, { cwd: io.cwd, env: io.env, encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Refusal(`git ${args.join(' ')} failed: the tag names a commit, so run this in the project's git work tree (${(result.stderr ?? result.error?.message ?? '').trim()})`);
  }
  return result.stdout.trim();
}

/** `npm run image -- ...`: returns the exit code. */
export function main(argv: readonly string[], io: ImageIo): number {
  const options = parseImageArgs(argv);
  if (typeof options === 'string') {
    io.err(`npm run image: ${options}\n${usage}\n`);
    return 2;
  }
  const workDir = mkdtempSync(join(tmpdir(), 'knfn-image-'));
  try {
    const engine = options.tool ?? findEngine(io.env);
    if (engine === undefined) throw new Refusal(`no container engine on PATH (looked for ${engines.join(', ')}): install one, or name it with --tool`);
    const commit = git(['rev-parse', 'HEAD'], io);
    const short = git(['rev-parse', '--short', 'HEAD'], io);
    const dirty = git(['status', '--porcelain'], io) !== '';
    if (dirty && !options.allowDirty) {
      throw new Refusal('the work tree has uncommitted changes, which the tag would not name: commit them, or pass --allow-dirty (the tag then ends in -dirty)');
    }
    const version = packageVersion(io.cwd);
    const reference = `${options.repository}:${version}-${short}${dirty ? '-dirty' : ''}`;
    try {
      parseRelease(reference);
    } catch (error) {
      if (error instanceof ReleaseError) throw new Refusal(error.message);
      throw error;
    }
    const labels = { 'org.opencontainers.image.revision': commit, 'org.opencontainers.image.version': version };
    const digestFile = join(workDir, 'digest');
    const calls = imageCalls(engine, reference, labels, options.push, digestFile);

    let printed = '';
    for (const call of calls) {
      io.out(`# ${call.why}\n${[engine, ...call.args].map(quote).join(' ')}\n`);
      if (options.dryRun) continue;
      const capture = call.args[0] === 'image' || !io.inheritOutput;
      const result = spawnSync(engine, call.args, {
        cwd: io.cwd,
        env: io.env,
        encoding: 'utf8',
        stdio: capture ? 'pipe' : ['ignore', 'inherit', 'inherit'],
      });
      if (result.error) throw new Refusal(`${engine} could not be started: ${result.error.message}`);
      if (capture && call.args[0] !== 'image') {
        io.out(result.stdout ?? '');
        io.err(result.stderr ?? '');
      }
      if (result.status !== 0) throw new Refusal(`${engine} ${call.args[0]} exited ${result.status}`);
      printed = result.stdout ?? '';
    }

    if (!options.push) {
      io.out(`# built ${reference}; nothing pushed. npm run image -- --push ${options.repository} pushes it and prints the deploy command\n`);
      return 0;
    }
    if (options.dryRun) {
      io.out(`npm run deploy -- --image ${options.repository}@<the digest the push reports>\n`);
      return 0;
    }
    const digest = engine === 'docker' ? dockerDigest(printed, options.repository) : readFileSync(digestFile, 'utf8').trim();
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Refusal(`${engine} reported no sha256 digest for ${reference} (got ${JSON.stringify(digest)})`);
    io.out(`# pushed ${reference} as ${options.repository}@${digest}; deploy exactly this image:\n`);
    io.out(`npm run deploy -- --image ${options.repository}@${digest}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    io.err(`npm run image: ${error.message}\n`);
    return 1;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** The digest of `repository` among `docker image inspect --format '{{json .RepoDigests}}'`. */
function dockerDigest(printed: string, repository: string): string {
  let digests: unknown;
  try {
    digests = JSON.parse(printed);
  } catch {
    return '';
  }
  const entry = Array.isArray(digests) ? digests.find((candidate): candidate is string => typeof candidate === 'string' && candidate.startsWith(`${repository}@`)) : undefined;
  return entry?.slice(repository.length + 1) ?? '';
}

function quote(arg: string): string {
  return /^[\w./=:,@-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exit(
    main(process.argv.slice(2), {
      env: process.env,
      cwd: process.cwd(),
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
      inheritOutput: true,
    }),
  );
}
