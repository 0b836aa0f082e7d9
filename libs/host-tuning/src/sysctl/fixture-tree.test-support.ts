import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { SettingRoots } from './read-settings.js';

/** A file's content, or `dir` for a directory where the file should be (unreadable even for root: EISDIR). */
export type FixtureEntry = string | { dir: true };

/**
 * A fake /proc/sys and /sys in a temporary directory. Files are written as the kernel prints them (with a trailing
 * newline, vectors tab-separated if the test says so).
 */
export async function fixtureTree(
  procSys: Record<string, FixtureEntry>,
  sys: Record<string, FixtureEntry> = {},
): Promise<
  SettingRoots & { base: string; read(root: 'procSys' | 'sys', path: string): Promise<string>; remove(): Promise<void> }
> {
  const base = await mkdtemp(join(tmpdir(), 'orch-sysctl-'));
  const roots = { procSys: join(base, 'proc-sys'), sys: join(base, 'sys') };
  const fill = async (root: string, entries: Record<string, FixtureEntry>) => {
    await mkdir(root, { recursive: true });
    for (const [path, entry] of Object.entries(entries)) {
      const full = join(root, path);
      if (typeof entry === 'string') {
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, `${entry}\n`);
      } else {
        await mkdir(full, { recursive: true });
      }
    }
  };
  await fill(roots.procSys, procSys);
  await fill(roots.sys, sys);
  return {
    ...roots,
    base,
    read: (root, path) => readFile(join(roots[root], path), 'utf8'),
    remove: () => rm(base, { recursive: true, force: true }),
  };
}
