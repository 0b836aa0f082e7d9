import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseSysctlProfile, parseTmpfilesWrites, type ProfileSetting } from './profile.js';

// Resolved from this module (dist/libs/host-tuning/src/sysctl/), not the working directory, so the CLI finds the
// repository's profile wherever it is started.
const HOST_TUNING_DIR = new URL('../../../../../infra/host-tuning/', import.meta.url);

export const DEFAULT_SYSCTL_PROFILE = fileURLToPath(new URL('sysctl.d/99-orchestrator.conf', HOST_TUNING_DIR));
export const DEFAULT_TMPFILES_PROFILE = fileURLToPath(new URL('tmpfiles.d/orchestrator-thp.conf', HOST_TUNING_DIR));

/** The profile's settings: the sysctl.d file's, then the tmpfiles.d file's /sys writes (when one is given). */
export async function loadSysctlProfile(files: {
  sysctl: string;
  tmpfiles?: string | undefined;
}): Promise<ProfileSetting[]> {
  const settings = parseSysctlProfile(await readFile(files.sysctl, 'utf8'), files.sysctl);
  if (!files.tmpfiles) return settings;
  return [...settings, ...parseTmpfilesWrites(await readFile(files.tmpfiles, 'utf8'), files.tmpfiles)];
}
