/**
 * `npm run bench`. The databases are created on TEST_DATABASE_URL's server (as the tests do), or
 * DATABASE_URL's, or 127.0.0.1:5432; set before the bench loads, since the test helper reads the
 * variable once at import.
 *
 * `npm run bench -- --readme` measures nothing: it renders README.md's benchmark part again from
 * bench/results/latest.json (after a change to the renderer).
 */
if (process.argv.includes('--readme')) {
  const { readLatest, rewriteReadme } = await import('./readme.ts');
  rewriteReadme(readLatest());
  process.stdout.write("rewrote README.md's benchmark part from bench/results/latest.json\n");
} else {
  const databaseUrl = process.env['DATABASE_URL'];
  if (process.env['TEST_DATABASE_URL'] === undefined && databaseUrl !== undefined) process.env['TEST_DATABASE_URL'] = databaseUrl;
  await import('./bench.ts');
}
