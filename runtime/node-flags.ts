/**
 * Node's flags wherever a bundle runs as a container runs it (the image, each Knative Service,
 * `--isolated`'s function processes, the bench): `gc` lets a function give back start-up's young
 * generation once it sits quiet (runtime/idle-compaction.ts).
 */
export const containerNodeFlags = ['--expose-gc'] as const;
