import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cluster } from './cluster.ts';

/**
 * What one deploy ships: an image that cannot move, and the name every object of the release
 * carries (Knative revisions `<function>-<name>`, the migration Job `migrate-<name>`, the
 * `knfn.dev/release` label). Two deploys of one release change nothing; a new image is a new name.
 */
export interface Release {
  /** `<repository>@sha256:<64 hex>` or `<repository>:<tag>`, the tag never `latest`. */
  image: string;
  /** A DNS label: `sha-<first 12 hex of the digest>`, or the tag (`v1.2.3` -> `v1-2-3`). */
  name: string;
}

/**
 * Function names have at most 40 characters (runtime/define-function.ts); a Knative revision
 * name `<function>-<release>` is a label value, at most 63 characters.
 */
export const maxReleaseNameLength = 20;

/** A reference refused as a release; its message is one line, fit to print as it is. */
export class ReleaseError extends Error {
  override name = 'ReleaseError';
}

// The image reference grammar of distribution/reference, lowercase only: an uppercase host is
// legal there, but an uppercase path is not, and one rule is easier to state than two.
const hostPart = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]+)?';
const pathPart = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const repositoryPattern = new RegExp(`^(?:${hostPart}/)?${pathPart}(?:/${pathPart})*$`);
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const digestPattern = /^sha256:([0-9a-f]{64})$/;

const expected = 'expected <repository>@sha256:<64 hex> or <repository>:<tag>';

/**
 * Checks a repository without tag or digest (`ghcr.io/knfn/knfn`, `localhost:5000/knfn`); returns
 * it, or throws a ReleaseError naming what is wrong.
 */
export function parseRepository(repository: string): string {
  if (repository !== repository.toLowerCase()) throw new ReleaseError(`${repository}: an image repository must be lowercase`);
  if (!repositoryPattern.test(repository)) throw new ReleaseError(`${repository}: not an image repository (e.g. ghcr.io/you/knfn)`);
  return repository;
}

/**
 * The release of an image reference, or a ReleaseError saying in one line why it is refused.
 *
 * @example
 * parseRelease('ghcr.io/knfn/knfn:v1.2.3') // { image: 'ghcr.io/knfn/knfn:v1.2.3', name: 'v1-2-3' }
 * parseRelease(`ghcr.io/knfn/knfn@sha256:${'ab'.repeat(32)}`).name // 'sha-abababababab'
 */
export function parseRelease(image: string): Release {
  if (image.trim() === '') throw new ReleaseError(`no image given: ${expected}`);
  const { repository, tag, digest } = splitReference(image);

  if (repository !== repository.toLowerCase()) throw new ReleaseError(`${image}: the repository must be lowercase`);
  if (!repositoryPattern.test(repository)) throw new ReleaseError(`${image}: not an image reference; ${expected}`);
  if (digest !== undefined) {
    const hex = digestPattern.exec(digest)?.[1];
    if (hex === undefined) throw new ReleaseError(`${image}: the digest must be sha256: and 64 lowercase hex digits`);
    if (tag !== undefined && !tagPattern.test(tag)) throw new ReleaseError(`${image}: "${tag}" is not a valid tag`);
    return { image, name: `sha-${hex.slice(0, 12)}` };
  }
  if (tag === undefined) {
    throw new ReleaseError(`${image}: no tag or digest, which means "latest" and moves; deploy a version tag or a digest (npm run image -- --push prints one)`);
  }
  if (tag === 'latest') {
    throw new ReleaseError(`${image}: "latest" moves, so the same manifests could run different code; deploy a version tag or a digest`);
  }
  if (!tagPattern.test(tag)) throw new ReleaseError(`${image}: "${tag}" is not a valid tag`);
  const name = releaseNameOfTag(tag);
  if (name.length > maxReleaseNameLength) {
    throw new ReleaseError(
      `${image}: the tag makes the release name "${name}" (${name.length} characters), longer than the ${maxReleaseNameLength} a Knative revision name leaves room for; use a shorter tag or the digest`,
    );
  }
  return { image, name };
}

interface Reference {
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

/** `host:port/path:tag@digest` into its parts; a colon before the last slash is a port. */
function splitReference(image: string): Reference {
  const at = image.indexOf('@');
  const named = at < 0 ? image : image.slice(0, at);
  const colon = named.indexOf(':', named.lastIndexOf('/') + 1);
  return {
    repository: colon < 0 ? named : named.slice(0, colon),
    tag: colon < 0 ? undefined : named.slice(colon + 1),
    digest: at < 0 ? undefined : image.slice(at + 1),
  };
}

/**
 * Why an image in a release's manifests could run different code tomorrow, or undefined when it
 * cannot: ours must be exactly the release's image; any other must carry a digest or a tag naming
 * at least major.minor (`postgres:17.5`, not `postgres:17`, never `latest` or no tag).
 */
export function imageProblem(image: string, release: Release): string | undefined {
  const { repository, tag, digest } = splitReference(image);
  if (repository === cluster.imageRepository || repository === splitReference(release.image).repository) {
    return image === release.image ? undefined : `${image} is our image but not the release's ${release.image}`;
  }
  if (digest !== undefined) return digestPattern.test(digest) ? undefined : `${image} has a malformed digest`;
  if (tag === undefined) return `${image} has no tag (that is latest, which moves)`;
  if (tag === 'latest') return `${image} is latest, which moves`;
  if (!/\d+\.\d+/.test(tag)) return `${image}: the tag names no minor version, so it moves with each release`;
  return undefined;
}

/** `v1.2.3` -> `v1-2-3`, `0.1.0` -> `v0-1-0`: a DNS label that starts with a letter. */
function releaseNameOfTag(tag: string): string {
  const label = tag.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return /^[a-z]/.test(label) ? label : `v${label}`;
}

/** The version in a project's package.json. */
export function packageVersion(root: string | URL = new URL('../', import.meta.url)): string {
  const path = typeof root === 'string' ? join(root, 'package.json') : new URL('package.json', root);
  const { version } = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown };
  if (typeof version !== 'string') throw new Error('package.json has no version');
  return version;
}

/**
 * The release the committed knative/ tree is rendered for: this version of the project's own
 * image, so a plain `kubectl apply -k knative/` ships one whole, pinned release.
 */
export function defaultRelease(): Release {
  return parseRelease(`${cluster.imageRepository}:${packageVersion()}`);
}
