import { normaliseValue, type ProfileSetting } from './profile.js';

/** What reading a setting's file gave. */
export type SettingReading =
  { state: 'value'; raw: string } | { state: 'missing' } | { state: 'unreadable'; error: string };

/**
 * ok: as the profile wants (or higher, for `check: min`); drift: differs; unsupported: no such file (the kernel lacks the
 * key, or a network namespace does not show it); unreadable: the file exists but could not be read.
 */
export type CheckStatus = 'ok' | 'drift' | 'unsupported' | 'unreadable';

export interface CheckRow {
  setting: ProfileSetting;
  status: CheckStatus;
  /** The running value, normalised (the selected choice for /sys files like `always madvise [never]`). */
  have: string | null;
  /** What `host apply` would write to reach the profile; null unless drift. */
  target: string | null;
  error?: string;
}

/** /sys choice files list every option and bracket the selected one: `always [madvise] never` means madvise. */
export function currentValue(raw: string): string {
  const value = normaliseValue(raw);
  const selected = /\[([^\]]*)\]/.exec(value);
  return selected ? (selected[1] ?? '') : value;
}

const numbers = (value: string): bigint[] | null =>
  /^\d+(\s\d+)*$/.test(value) ? value.split(' ').map((n) => BigInt(n)) : null;

/**
 * For `check: min`, the value to write: each field raised to the profile's where it is lower, higher fields kept.
 * Returns `have` itself when nothing is lower; null when the running value is not a vector of the same length.
 */
function raisedTo(want: string, have: string): string | null {
  const w = numbers(want);
  const h = numbers(have);
  if (!w || !h || w.length !== h.length) return null;
  return h.map((n, i) => (n >= w[i]! ? n : w[i]!).toString()).join(' ');
}

export function compareSetting(setting: ProfileSetting, reading: SettingReading): CheckRow {
  if (reading.state === 'missing') return { setting, status: 'unsupported', have: null, target: null };
  if (reading.state === 'unreadable') {
    return { setting, status: 'unreadable', have: null, target: null, error: reading.error };
  }
  const have = currentValue(reading.raw);
  if (setting.mode === 'min') {
    // A value that is not a comparable vector is drift; writing the profile's value is the only sensible repair.
    const target = raisedTo(setting.value, have) ?? setting.value;
    return target === have ? { setting, status: 'ok', have, target: null } : { setting, status: 'drift', have, target };
  }
  return have === setting.value
    ? { setting, status: 'ok', have, target: null }
    : { setting, status: 'drift', have, target: setting.value };
}

export interface CheckSummary {
  ok: number;
  drift: number;
  unsupported: number;
  unreadable: number;
}

export function summariseCheck(rows: CheckRow[]): CheckSummary {
  const summary: CheckSummary = { ok: 0, drift: 0, unsupported: 0, unreadable: 0 };
  for (const row of rows) summary[row.status] += 1;
  return summary;
}
