import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// Every schema imports zod from here, never from 'zod' or 'zod/mini' directly: classic zod is
// about 700 KB bundled (its namespace import drags in everything), mini is a fraction of that,
// and this module is where mini gets its English messages (it has none of its own). Loading it
// sets them whether or not runtime/config.ts has run, e.g. in a test that imports one function.
z.config(en());

export * from 'zod/mini';
