import type { Command } from 'commander';
import {
  applyPlan,
  checkSettings,
  DEFAULT_STATE_FILE,
  DEFAULT_SYSCTL_PROFILE,
  DEFAULT_TMPFILES_PROFILE,
  HOST_ROOTS,
  isPerNetns,
  loadSysctlProfile,
  NoSavedState,
  planApply,
  ProfileError,
  rollbackSettings,
  StateFileExists,
  StateFileInvalid,
  summariseCheck,
  type CheckRow,
  type ProfileSetting,
  type SettingChange,
  type SettingRoots,
} from '#libs/host-tuning';
import { CliError, EXIT, json, out, progress, table } from './cli-support.js';

interface ProfileOptions {
  profile: string;
  tmpfiles: string;
  procSys: string;
  sys: string;
  netnsOnly?: boolean;
  json?: boolean;
}

interface ApplyOptions extends ProfileOptions {
  dryRun?: boolean;
  stateFile: string;
  overwriteState?: boolean;
}

const STATE_FILE_HELP = 'where apply saves the values it replaces, and rollback reads them';

/** The options every command reading the profile shares. */
function profileOptions(command: Command): Command {
  return command
    .option('--profile <file>', 'sysctl.d profile', DEFAULT_SYSCTL_PROFILE)
    .option('--tmpfiles <file>', 'tmpfiles.d file with the /sys writes ("" for none)', DEFAULT_TMPFILES_PROFILE)
    .option('--proc-sys <dir>', 'root of the sysctl tree', HOST_ROOTS.procSys)
    .option('--sys <dir>', 'root of sysfs', HOST_ROOTS.sys)
    .option('--netns-only', 'only the settings that belong to a network namespace (run inside one: ip netns exec)')
    .option('--json', 'one JSON document');
}

async function profileRows(options: ProfileOptions): Promise<{ rows: CheckRow[]; roots: SettingRoots }> {
  let settings: ProfileSetting[];
  try {
    settings = await loadSysctlProfile({ sysctl: options.profile, tmpfiles: options.tmpfiles || undefined });
  } catch (error) {
    if (error instanceof ProfileError) throw new CliError(`bad profile: ${error.message}`, EXIT.usage);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(`profile not found: ${(error as NodeJS.ErrnoException).path}`, EXIT.notFound);
    }
    throw error;
  }
  if (options.netnsOnly) settings = settings.filter(isPerNetns);
  const roots = { procSys: options.procSys, sys: options.sys };
  return { rows: await checkSettings(settings, roots), roots };
}

const want = (row: CheckRow): string => (row.setting.mode === 'min' ? `>= ${row.setting.value}` : row.setting.value);

const changeRows = (changes: SettingChange[]) => changes.map((c) => [c.key, c.from, c.to]);

export function registerHostSysctl(host: Command): void {
  profileOptions(
    host
      .command('check')
      .description(
        'compare the running kernel with the sysctl profile and the /sys writes: ok, drift, unsupported (not in ' +
          'this kernel or namespace), unreadable. Exit 0 when everything is ok or unsupported, 1 on drift or an unreadable key',
      ),
  ).action(async (options: ProfileOptions) => {
    const { rows } = await profileRows(options);
    const summary = summariseCheck(rows);
    if (options.json) {
      out(
        json({
          settings: rows.map((r) => ({
            key: r.setting.key,
            want: r.setting.value,
            mode: r.setting.mode,
            have: r.have,
            status: r.status,
            ...(r.error ? { error: r.error } : {}),
          })),
          summary,
        }),
      );
    } else {
      table(
        ['KEY', 'WANT', 'HAVE', 'STATUS'],
        rows.map((r) => [r.setting.key, want(r), r.have, r.error ? `${r.status} (${r.error})` : r.status]),
      ).forEach(out);
      out(
        `${summary.ok} ok, ${summary.drift} drift, ${summary.unsupported} unsupported, ${summary.unreadable} unreadable`,
      );
    }
    // An unreadable key is a failed check too: nobody can say it is as the profile wants.
    if (summary.drift + summary.unreadable > 0) process.exitCode = EXIT.failed;
  });

  profileOptions(
    host
      .command('apply')
      .description(
        'write the drifting settings of the profile, saving the values they replace for `host rollback`; ' +
          '"check: min" limits are only raised. Refuses while an earlier apply is still saved',
      ),
  )
    .option('--dry-run', 'print what would change and write nothing')
    .option('--state-file <file>', STATE_FILE_HELP, DEFAULT_STATE_FILE)
    .option('--overwrite-state', 'replace values saved by an earlier apply (they are lost)')
    .action(async (options: ApplyOptions) => {
      const { rows, roots } = await profileRows(options);
      const plan = planApply(rows, roots);
      if (options.dryRun) {
        if (options.json) return out(json({ dryRun: true, changes: plan.changes, skipped: plan.skipped }));
        if (plan.changes.length) table(['KEY', 'FROM', 'TO'], changeRows(plan.changes)).forEach(out);
        plan.skipped.forEach((s) => out(`skipped ${s.key}: ${s.status}${s.error ? ` (${s.error})` : ''}`));
        return out(`dry run: ${plan.changes.length} setting(s) would change; nothing written`);
      }
      let result;
      try {
        result = await applyPlan(plan, { stateFile: options.stateFile, overwriteState: options.overwriteState });
      } catch (error) {
        if (error instanceof StateFileExists) {
          throw new CliError(
            `${error.message}; run \`host rollback --state-file ${error.file}\` first, or pass --overwrite-state`,
          );
        }
        throw error;
      }
      if (options.json) {
        out(json({ dryRun: false, stateFile: options.stateFile, ...result, skipped: plan.skipped }));
      } else {
        if (result.written.length) table(['KEY', 'FROM', 'TO'], changeRows(result.written)).forEach(out);
        plan.skipped.forEach((s) => out(`skipped ${s.key}: ${s.status}${s.error ? ` (${s.error})` : ''}`));
        result.failed.forEach((f) => progress(`failed ${f.key}: ${f.error}`));
        out(
          result.written.length + result.failed.length
            ? `applied ${result.written.length} setting(s); previous values saved in ${options.stateFile}`
            : 'nothing to change',
        );
      }
      if (result.failed.length || plan.skipped.some((s) => s.status === 'unreadable')) process.exitCode = EXIT.failed;
    });

  host
    .command('rollback')
    .description('restore the values the last `host apply` replaced, then remove its state file')
    .option('--state-file <file>', STATE_FILE_HELP, DEFAULT_STATE_FILE)
    .option('--json', 'one JSON document')
    .action(async (options: { stateFile: string; json?: boolean }) => {
      let result;
      try {
        result = await rollbackSettings(options.stateFile);
      } catch (error) {
        if (error instanceof NoSavedState) throw new CliError(error.message, EXIT.notFound);
        if (error instanceof StateFileInvalid) throw new CliError(error.message);
        throw error;
      }
      if (options.json) {
        out(json({ stateFile: options.stateFile, ...result }));
      } else {
        if (result.restored.length) table(['KEY', 'FROM', 'TO'], changeRows(result.restored)).forEach(out);
        result.failed.forEach((f) => progress(`failed ${f.key}: ${f.error}`));
        out(
          `restored ${result.restored.length} setting(s), ${result.unchanged} already as saved; ` +
            (result.stateRemoved ? `${options.stateFile} removed` : `${options.stateFile} kept (some writes failed)`),
        );
      }
      if (result.failed.length) process.exitCode = EXIT.failed;
    });
}
