import { writeFile } from 'node:fs/promises';
import { type CheckRow, currentValue } from './compare.js';
import { readSetting, type SettingRoots, settingPath } from './read-settings.js';
import { loadState, removeState, saveState, type SavedState } from './state-file.js';

export interface SettingChange {
  key: string;
  path: string;
  from: string;
  to: string;
}

/** What `host apply` will do: drifting settings change; unsupported and unreadable ones cannot be applied. */
export interface ApplyPlan {
  changes: SettingChange[];
  skipped: { key: string; status: 'unsupported' | 'unreadable'; error?: string }[];
}

export function planApply(rows: CheckRow[], roots: SettingRoots): ApplyPlan {
  const plan: ApplyPlan = { changes: [], skipped: [] };
  for (const row of rows) {
    const key = row.setting.key;
    switch (row.status) {
      case 'ok':
        break;
      case 'drift':
        plan.changes.push({ key, path: settingPath(row.setting, roots), from: row.have ?? '', to: row.target ?? '' });
        break;
      case 'unsupported':
        plan.skipped.push({ key, status: 'unsupported' });
        break;
      case 'unreadable':
        // Without the running value there is nothing to roll back to, so it is not written.
        plan.skipped.push({ key, status: 'unreadable', ...(row.error ? { error: row.error } : {}) });
        break;
      default:
        row.status satisfies never;
    }
  }
  return plan;
}

export interface WriteFailure {
  key: string;
  path: string;
  error: string;
}

const errorCode = (error: unknown): string =>
  (error as NodeJS.ErrnoException).code ?? (error as Error).message ?? String(error);

/** Kernel files take a whole value per write; the file is truncated so fixture trees behave alike. */
const writeValue = (path: string, value: string): Promise<void> => writeFile(path, `${value}\n`);

/**
 * Saves the values being replaced, then writes the new ones. The state is saved first so that a write failing half
 * way (EINVAL, a read-only key) still leaves everything written restorable. Throws StateFileExists, before writing
 * anything, when an earlier apply's values are still saved and `overwriteState` is not set.
 */
export async function applyPlan(
  plan: ApplyPlan,
  options: { stateFile: string; overwriteState?: boolean; now?: Date },
): Promise<{ written: SettingChange[]; failed: WriteFailure[] }> {
  if (plan.changes.length === 0) return { written: [], failed: [] };
  const state: SavedState = {
    version: 1,
    savedAt: (options.now ?? new Date()).toISOString(),
    settings: plan.changes.map((c) => ({ key: c.key, path: c.path, previous: c.from })),
  };
  await saveState(options.stateFile, state, options.overwriteState ?? false);
  const written: SettingChange[] = [];
  const failed: WriteFailure[] = [];
  for (const change of plan.changes) {
    try {
      await writeValue(change.path, change.to);
      written.push(change);
    } catch (error) {
      failed.push({ key: change.key, path: change.path, error: errorCode(error) });
    }
  }
  // Nothing changed (not root, say): a saved state would only block the next apply.
  if (written.length === 0) await removeState(options.stateFile);
  return { written, failed };
}

export class NoSavedState extends Error {
  override readonly name = 'NoSavedState';
  constructor(readonly file: string) {
    super(`no saved state at ${file}: nothing to roll back`);
  }
}

export interface RollbackResult {
  restored: SettingChange[];
  unchanged: number;
  failed: WriteFailure[];
  /** The state file is removed only once every value is back. */
  stateRemoved: boolean;
}

/** Writes back every saved value that differs from the running one, then removes the state file. */
export async function rollbackSettings(stateFile: string): Promise<RollbackResult> {
  const state = await loadState(stateFile);
  if (!state) throw new NoSavedState(stateFile);
  const result: RollbackResult = { restored: [], unchanged: 0, failed: [], stateRemoved: false };
  for (const saved of state.settings) {
    const reading = await readSetting(saved.path);
    const now = reading.state === 'value' ? currentValue(reading.raw) : null;
    if (now === saved.previous) {
      result.unchanged += 1;
      continue;
    }
    try {
      await writeValue(saved.path, saved.previous);
      result.restored.push({ key: saved.key, path: saved.path, from: now ?? '', to: saved.previous });
    } catch (error) {
      result.failed.push({ key: saved.key, path: saved.path, error: errorCode(error) });
    }
  }
  if (result.failed.length === 0) {
    await removeState(stateFile);
    result.stateRemoved = true;
  }
  return result;
}
