import type { FunctionDefinition } from '../runtime/define-function.ts';
import pingpong from './pingpong/index.ts';
import pings from './pings/index.ts';

/** Every function of the project; the local runner, manifests and docs are derived from this list. */
export const allFunctions: readonly FunctionDefinition[] = [pingpong, pings];
