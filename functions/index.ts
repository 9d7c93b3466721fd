import type { FunctionDefinition } from '../runtime/define-function.ts';
import pingpong from './pingpong/index.ts';
import pings from './pings/index.ts';
import logOutput from './log-output/index.ts';
import stats from './stats/index.ts';
import locations from './locations/index.ts';
import time from './time/index.ts';
import save from './save/index.ts';
import messageWorker from './message-worker/index.ts';
import messageBoard from './message-board/index.ts';
import deadLetters from './dead-letters/index.ts';

/** Every function of the project; the local runner, manifests and docs are derived from this list. */
export const allFunctions: readonly FunctionDefinition[] = [pingpong, pings, logOutput, time, locations, stats, save, messageWorker, messageBoard, deadLetters];
