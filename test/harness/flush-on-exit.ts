/**
 * Loaded into every test file's process by scripts/test.sh. With --test-force-exit, a file's process calls
 * process.exit as soon as its tests are done, and the runner at times finalises the file before it has read the
 * file's last results: they vanish from the report, passes and failures alike, and the count shrinks with exit code 0
 * (nodejs/node#64833; CI on 2026-12-03 lost the last six tests of one file). Here exiting waits until what was written
 * to stdout is flushed, and a moment more for the runner to read it. Other processes (roles the tests start, the CLI)
 * are left alone.
 */
const FLUSH_GRACE_MS = 100;
/** Exits by then even if stdout never reports the write done (a closed pipe). */
const FLUSH_LIMIT_MS = 2_000;

if (process.argv[1]?.endsWith('.test.js')) {
  const exit = process.exit.bind(process);
  let exiting = false;
  process.exit = (code?: number | string | null): never => {
    if (exiting) return undefined as never;
    exiting = true;
    setTimeout(() => exit(code), FLUSH_LIMIT_MS);
    process.stdout.write('', () => setTimeout(() => exit(code), FLUSH_GRACE_MS));
    return undefined as never;
  };
}
