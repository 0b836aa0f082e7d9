import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const CONSOLE_DIST = join(ROOT, 'dist/console');
const WEB = join(ROOT, 'apps/console/web');

/**
 * Bundles the web console into dist/console: the app and the materialization Web Worker (which carries the same patch
 * engine as the materializers, libs/workflows), minified, with source maps; index.html names the hashed files.
 */
export async function buildConsole(): Promise<{ files: string[] }> {
  // Bundles are named by content hash: the last build's would pile up beside the new ones.
  await rm(CONSOLE_DIST, { recursive: true, force: true });
  await mkdir(CONSOLE_DIST, { recursive: true });
  const result = await build({
    entryPoints: { app: join(WEB, 'main.tsx'), 'fold.worker': join(WEB, 'fold.worker.ts') },
    outdir: CONSOLE_DIST,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    sourcemap: 'linked',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(ROOT, 'apps/console/tsconfig.json'),
    metafile: true,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const outputs = Object.keys(result.metafile.outputs).map((path) => path.slice(path.lastIndexOf('/') + 1));
  const named = (prefix: string) => {
    const file = outputs.find((name) => name.startsWith(`${prefix}-`) && name.endsWith('.js'));
    if (!file) throw new Error(`esbuild made no ${prefix} bundle`);
    return file;
  };
  const html = (await readFile(join(WEB, 'index.html'), 'utf8'))
    .replace('%APP%', `/console/${named('app')}`)
    .replace('%WORKER%', `/console/${named('fold.worker')}`);
  await writeFile(join(CONSOLE_DIST, 'index.html'), html);
  await copyFile(join(WEB, 'styles.css'), join(CONSOLE_DIST, 'styles.css'));
  return { files: outputs };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const { files } = await buildConsole();
  process.stdout.write(
    `web console: ${files.filter((f) => f.endsWith('.js')).join(', ')} in ${dirname(CONSOLE_DIST)}/console ` +
      `(${Math.round(performance.now() - started)} ms)\n`,
  );
}
