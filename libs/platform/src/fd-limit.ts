import { readFile } from 'node:fs/promises';

export interface OpenFilesLimit {
  /** The limit in force (what open() and accept() hit); null when unlimited. */
  readonly soft: number | null;
  readonly hard: number | null;
}

const limitValue = (text: string): number | null => (text === 'unlimited' ? null : Number(text));

/** The "Max open files" row of /proc/<pid>/limits (RLIMIT_NOFILE), or undefined when the text has none. */
export function parseOpenFilesLimit(limitsText: string): OpenFilesLimit | undefined {
  const row = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)\s+files\s*$/m.exec(limitsText);
  if (!row) return undefined;
  return { soft: limitValue(row[1] as string), hard: limitValue(row[2] as string) };
}

/**
 * The warning to log when the soft limit is below `recommended`, naming both and how to raise it; undefined when it is
 * enough (or the check is off: recommended 0). Node raises its soft limit to the hard one as it starts, so a low
 * figure here means the hard limit itself is low, which only the supervisor (or root) can raise.
 */
export function fdLimitWarning(limit: OpenFilesLimit, recommended: number): string | undefined {
  if (recommended <= 0 || limit.soft === null || limit.soft >= recommended) return undefined;
  return (
    `the open-file limit (RLIMIT_NOFILE) is ${limit.soft} (hard ${limit.hard ?? 'unlimited'}), below the ` +
    `recommended ${recommended}: every connection, pooled client and file takes a descriptor, and past the limit ` +
    `accept() fails with EMFILE. Raise it with LimitNOFILE=${recommended} in the systemd unit, or \`ulimit -n ` +
    `${recommended}\` in the shell that starts the service (FD_LIMIT_MIN sets the threshold; 0 turns this check off)`
  );
}

/** Reads this process's limit from /proc (Linux); undefined where there is no such file. */
export async function readOpenFilesLimit(path = '/proc/self/limits'): Promise<OpenFilesLimit | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseOpenFilesLimit(text);
}
