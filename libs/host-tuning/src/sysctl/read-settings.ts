import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SettingReading } from './compare.js';
import { pathUnderRoot, type ProfileSetting } from './profile.js';

/** Where settings live: /proc/sys and /sys on a real host, fixture trees in tests. */
export interface SettingRoots {
  procSys: string;
  sys: string;
}

export const HOST_ROOTS: SettingRoots = { procSys: '/proc/sys', sys: '/sys' };

/** Checked again here, where the path is used: a setting need not come from the parsers. */
export const settingPath = (setting: ProfileSetting, roots: SettingRoots): string =>
  join(
    setting.kind === 'sysctl' ? roots.procSys : roots.sys,
    pathUnderRoot(setting.kind, setting.relativePath, `${setting.source.file}:${setting.source.line}`),
  );

/**
 * ENOENT/ENOTDIR: the kernel has no such key (or the namespace does not show it). Anything else (EACCES, which
 * /proc/sys enforces even for root; EISDIR; EIO from a driver) means the key exists but its value is unknown.
 */
export async function readSetting(path: string): Promise<SettingReading> {
  try {
    return { state: 'value', raw: await readFile(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    return { state: 'unreadable', error: code };
  }
}
