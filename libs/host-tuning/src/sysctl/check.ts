import { compareSetting, type CheckRow } from './compare.js';
import { readSetting, type SettingRoots, settingPath } from './read-settings.js';
import type { ProfileSetting } from './profile.js';

/** Reads every setting's running value under `roots` and compares it with the profile. */
export async function checkSettings(settings: ProfileSetting[], roots: SettingRoots): Promise<CheckRow[]> {
  return Promise.all(settings.map(async (s) => compareSetting(s, await readSetting(settingPath(s, roots)))));
}
