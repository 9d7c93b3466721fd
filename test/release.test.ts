import { describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { revisionName } from '../scripts/manifests.ts';
import { defaultRelease, imageProblem, maxReleaseNameLength, parseRelease, parseRepository, ReleaseError } from '../scripts/release.ts';

const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;

function refusal(image: string): string {
  try {
    parseRelease(image);
  } catch (error) {
    expect(error).toBeInstanceOf(ReleaseError);
    return (error as Error).message;
  }
  throw new Error(`${image} was accepted`);
}

describe('a release', () => {
  it('is named sha-<first 12 hex> for a digest', () => {
    expect(parseRelease(`ghcr.io/knfn/knfn@${digest}`)).toEqual({ image: `ghcr.io/knfn/knfn@${digest}`, name: 'sha-0123456789ab' });
    // A tag beside the digest changes nothing: the digest is what runs.
    expect(parseRelease(`ghcr.io/knfn/knfn:v9@${digest}`).name).toBe('sha-0123456789ab');
  });

  it('is named after a tag as a DNS label that starts with a letter', () => {
    expect(parseRelease('ghcr.io/knfn/knfn:v1.2.3')).toEqual({ image: 'ghcr.io/knfn/knfn:v1.2.3', name: 'v1-2-3' });
    expect(parseRelease('ghcr.io/knfn/knfn:0.1.0').name).toBe('v0-1-0');
    expect(parseRelease('localhost:5000/knfn:0.1.0-4dec6b8').name).toBe('v0-1-0-4dec6b8');
    expect(parseRelease('knfn:RC_2').name).toBe('rc-2');
  });

  it('defaults to package.json\'s version of our image', () => {
    expect(defaultRelease()).toEqual({ image: 'ghcr.io/knfn/knfn:0.1.0', name: 'v0-1-0' });
  });

  it('fits every function\'s revision name into 63 characters', () => {
    const longest = parseRelease(`knfn:v${'1'.repeat(maxReleaseNameLength - 1)}`);
    expect(longest.name).toHaveLength(maxReleaseNameLength);
    expect(revisionName('f'.repeat(40), longest)).toHaveLength(61);
    for (const { name } of allFunctions) expect(revisionName(name, longest).length).toBeLessThanOrEqual(63);
  });
});

describe('a refused image, in one line', () => {
  it.each([
    ['latest', 'ghcr.io/knfn/knfn:latest', /"latest" moves/],
    ['an untagged repository', 'ghcr.io/knfn/knfn', /no tag or digest/],
    ['a registry port without a tag', 'localhost:5000/knfn', /no tag or digest/],
    ['garbage', 'not an image!', /not an image reference/],
    ['a malformed tag', 'ghcr.io/knfn/knfn:.v1', /not a valid tag/],
    ['an uppercase repository', 'ghcr.io/KNFN/knfn:v1', /must be lowercase/],
    ['a too-long tag', 'ghcr.io/knfn/knfn:release-2026-11-23-final', /"release-2026-11-23-final" \(24 characters\).*shorter tag or the digest/],
    ['a short digest', 'ghcr.io/knfn/knfn@sha256:abc', /64 lowercase hex/],
    ['nothing', '', /no image given/],
  ])('%s', (_what, image, message) => {
    const text = refusal(image);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  it('checks a bare repository for npm run image', () => {
    expect(parseRepository('registry.example:5000/team/knfn')).toBe('registry.example:5000/team/knfn');
    expect(() => parseRepository('Registry/knfn')).toThrow(/lowercase/);
  });
});

describe('an image in a release', () => {
  const release = parseRelease(`ghcr.io/knfn/knfn@${digest}`);

  it('is pinned when ours is the release\'s, or another has a digest or a minor version', () => {
    expect(imageProblem(release.image, release)).toBeUndefined();
    expect(imageProblem('postgres:17.5', release)).toBeUndefined();
    expect(imageProblem(`ghcr.io/neondatabase/wsproxy@${digest}`, release)).toBeUndefined();
  });

  it('is moving when latest, untagged, a major tag, or ours at another version', () => {
    expect(imageProblem('ghcr.io/neondatabase/wsproxy:latest', release)).toMatch(/latest/);
    expect(imageProblem('gcr.io/knative-releases/knative.dev/eventing/cmd/event_display', release)).toMatch(/no tag/);
    expect(imageProblem('postgres:17', release)).toMatch(/no minor version/);
    expect(imageProblem('ghcr.io/knfn/knfn:0.1.0', release)).toMatch(/not the release's/);
  });
});
