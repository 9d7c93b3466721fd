import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../scripts/image.ts';
import { fakeCommands } from './support/fake-command.ts';
import type { FakeCommands, FakeRule } from './support/fake-command.ts';

const digest = `sha256:${'c0ffee00'.repeat(8)}`;
const repository = 'registry.example:5000/team/knfn';

const engineRules: Record<string, FakeRule[]> = {
  docker: [
    { match: /^build /, answers: [{ stdout: 'built\n' }] },
    { match: /^push /, answers: [{ stdout: `1.4.0: digest: ${digest} size: 1234\n` }] },
    { match: /^image inspect /, answers: [{ stdout: `["elsewhere.example/knfn@sha256:${'1'.repeat(64)}","${repository}@${digest}"]\n` }] },
  ],
  podman: [
    { match: /^build /, answers: [{ stdout: 'built\n' }] },
    { match: /^push --digestfile /, answers: [{ writeFile: { flag: '--digestfile', content: digest } }] },
  ],
};

let project: string;
let fake: FakeCommands | undefined;
let commit = '';

function git(...args: string[]): string {
  const result = spawnSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd: project, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), 'knfn-image-project-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'knfn', version: '1.4.0' }));
  writeFileSync(join(project, 'Dockerfile'), 'FROM scratch\n');
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', 'first');
  commit = git('rev-parse', 'HEAD');
});

afterEach(() => {
  fake?.remove();
  fake = undefined;
  rmSync(project, { recursive: true, force: true });
});

/** Runs `npm run image -- ...` in the test project with only the fake engines (and git) on PATH. */
function image(args: string[], engines: string[]): { status: number; out: string; err: string } {
  fake = fakeCommands(Object.fromEntries(engines.map((engine) => [engine, engineRules[engine] ?? engineRules['podman'] ?? []])));
  let out = '';
  let err = '';
  const status = main(args, {
    env: { ...process.env, PATH: `${fake.dir}:/usr/bin:/bin` },
    cwd: project,
    out: (text) => (out += text),
    err: (text) => (err += text),
    inheritOutput: false,
  });
  return { status, out, err };
}

const tag = () => `${repository}:1.4.0-${commit.slice(0, git('rev-parse', '--short', 'HEAD').length)}`;
const labels = () => ['--label', `org.opencontainers.image.revision=${commit}`, '--label', 'org.opencontainers.image.version=1.4.0'];

describe('npm run image', () => {
  it('takes docker when it is first found, pushes, reads the digest of this repository and prints the deploy command', () => {
    const run = image(['--push', repository], ['docker', 'podman']);
    expect(run.err).toBe('');
    expect(run.status).toBe(0);
    expect(fake?.calls('docker')).toEqual([
      ['build', '-f', 'Dockerfile', '-t', tag(), ...labels(), '.'],
      ['push', tag()],
      ['image', 'inspect', '--format', '{{json .RepoDigests}}', tag()],
    ]);
    expect(fake?.calls('podman')).toEqual([]);
    expect(run.out.trim().split('\n').at(-1)).toBe(`npm run deploy -- --image ${repository}@${digest}`);
  });

  it('with --tool podman, pushes with --digestfile and deploys what it wrote', () => {
    const run = image(['--push', '--tool', 'podman', repository], ['docker', 'podman']);
    expect(run.status).toBe(0);
    const calls = fake?.calls('podman') ?? [];
    expect(calls[0]).toEqual(['build', '-f', 'Dockerfile', '-t', tag(), ...labels(), '.']);
    expect(calls[1]).toEqual(['push', '--digestfile', expect.stringMatching(/\/digest$/), tag(), `docker://${tag()}`]);
    expect(fake?.calls('docker')).toEqual([]);
    expect(run.out.trim().split('\n').at(-1)).toBe(`npm run deploy -- --image ${repository}@${digest}`);
  });

  it('finds buildah when it is the only engine', () => {
    const run = image(['--push', repository], ['buildah']);
    expect(run.status).toBe(0);
    expect(fake?.calls('buildah').map((args) => args[0])).toEqual(['build', 'push']);
    expect(run.out).toContain(`npm run deploy -- --image ${repository}@${digest}`);
  });

  it('builds without pushing, and says how to push', () => {
    const run = image([repository], ['docker']);
    expect(run.status).toBe(0);
    expect(fake?.calls('docker').map((args) => args[0])).toEqual(['build']);
    expect(run.out).toContain(`npm run image -- --push ${repository}`);
    expect(run.out).not.toContain('npm run deploy');
  });

  it('prints the commands and runs none with --dry-run', () => {
    const run = image(['--push', '--dry-run', repository], ['docker']);
    expect(run.status).toBe(0);
    expect(fake?.calls('docker')).toEqual([]);
    expect(run.out).toContain(`docker build -f Dockerfile -t ${tag()} --label org.opencontainers.image.revision=${commit}`);
    expect(run.out).toContain(`docker push ${tag()}`);
    expect(run.out).toContain(`npm run deploy -- --image ${repository}@<the digest the push reports>`);
  });

  it('refuses a dirty work tree unless --allow-dirty, which marks the tag', () => {
    writeFileSync(join(project, 'uncommitted.txt'), 'x');
    const refused = image(['--push', repository], ['docker']);
    expect(refused.status).toBe(1);
    expect(refused.err).toMatch(/uncommitted changes.*--allow-dirty/);
    expect(fake?.calls('docker')).toEqual([]);
    fake?.remove();
    const allowed = image(['--allow-dirty', repository], ['docker']);
    expect(allowed.status).toBe(0);
    expect(fake?.calls('docker')[0]).toContain(`${tag()}-dirty`);
  });

  it('refuses without an engine, a tag in the repository, or an uppercase one', () => {
    expect(image([repository], []).err).toMatch(/no container engine on PATH \(looked for docker, podman, buildah\)/);
    expect(image([`${repository}:v1`], ['docker']).err).toMatch(/give the repository only/);
    expect(image(['Registry.example/knfn'], ['docker']).err).toMatch(/must be lowercase/);
    expect(fake?.calls('docker')).toEqual([]);
  });
});
