import { posix } from 'node:path';

/** One setting the kit checks and applies: a sysctl (under /proc/sys) or a /sys file written by systemd-tmpfiles. */
export interface ProfileSetting {
  kind: 'sysctl' | 'sysfs';
  /** As an operator writes it: `net.core.somaxconn`, or `/sys/kernel/mm/transparent_hugepage/enabled`. */
  key: string;
  /** Path below the root (/proc/sys or /sys), e.g. `net/core/somaxconn`. */
  relativePath: string;
  value: string;
  /** `min`: the running value may be higher ("at least"); limits the kernel sizes from the machine must not be lowered. */
  mode: CheckMode;
  source: { file: string; line: number };
}

export type CheckMode = 'exact' | 'min';

export class ProfileError extends Error {
  override readonly name = 'ProfileError';
}

const ANNOTATION = /^[#;]\s*check:\s*(\S+)\s*$/;
const NUMBERS = /^\d+(\s+\d+)*$/;

/**
 * sysctl.d(5) keys: dots separate levels unless the first separator is a slash, in which case dots are part of a
 * name (an interface such as eth0.100) and slashes separate.
 */
/**
 * `relativePath` normalised, or a ProfileError when it does not name something below its root: the kit writes these
 * paths as root, so `..` in a profile line (`/sys/../etc/x`) must not reach /etc.
 */
export function pathUnderRoot(kind: ProfileSetting['kind'], relativePath: string, at: string): string {
  const normal = posix.normalize(relativePath);
  if (posix.isAbsolute(normal) || normal === '.' || normal === '..' || normal.startsWith('../')) {
    throw new ProfileError(`${at}: ${relativePath} leaves ${kind === 'sysctl' ? '/proc/sys' : '/sys'}`);
  }
  return normal;
}

export function sysctlRelativePath(key: string): string {
  const dot = key.indexOf('.');
  const slash = key.indexOf('/');
  if (slash !== -1 && (dot === -1 || slash < dot)) return key.replace(/^\/+/, '');
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

/**
 * Reads the comment lines of a profile for `# check: <mode>`, which applies to the next setting. Returns the mode
 * pending after this line, or undefined when the line is no annotation.
 */
function checkAnnotation(line: string, file: string, lineNo: number): CheckMode | undefined {
  const match = ANNOTATION.exec(line);
  if (!match) return undefined;
  if (match[1] === 'min' || match[1] === 'exact') return match[1];
  throw new ProfileError(`${file}:${lineNo}: unknown check mode "${match[1]}" (known: min, exact)`);
}

function validated(setting: ProfileSetting): ProfileSetting {
  const at = `${setting.source.file}:${setting.source.line}`;
  if (setting.value === '') throw new ProfileError(`${at}: ${setting.key} has no value`);
  if (setting.mode === 'min' && !NUMBERS.test(setting.value)) {
    throw new ProfileError(`${at}: "check: min" needs numbers, ${setting.key} is "${setting.value}"`);
  }
  return setting;
}

/** Parses a sysctl.d(5) file. Values are normalised (runs of whitespace become one space). */
export function parseSysctlProfile(text: string, file = 'profile'): ProfileSetting[] {
  return parseSettingLines(text, file, ['#', ';'], (line, lineNo, mode) => {
    const eq = line.indexOf('=');
    if (eq === -1) throw new ProfileError(`${file}:${lineNo}: expected "key = value", got "${line}"`);
    // A leading "-" tells systemd-sysctl to ignore a failure to set the key; missing keys are never fatal here.
    const key = line.slice(0, eq).trim().replace(/^-/, '');
    if (key.includes('*')) throw new ProfileError(`${file}:${lineNo}: globs are not supported (${key})`);
    return {
      kind: 'sysctl',
      key,
      relativePath: pathUnderRoot('sysctl', sysctlRelativePath(key), `${file}:${lineNo}`),
      value: normaliseValue(line.slice(eq + 1)),
      mode,
      source: { file, line: lineNo },
    };
  });
}

/**
 * Parses the `w` lines of a tmpfiles.d(5) file that write /sys files (transparent hugepages). Other line types
 * would be tmpfiles' business, not a setting to check, so they are refused rather than silently skipped.
 */
export function parseTmpfilesWrites(text: string, file = 'tmpfiles'): ProfileSetting[] {
  return parseSettingLines(text, file, ['#'], (line, lineNo, mode) => {
    // Type, path, mode, user, group, age, argument: the argument is the rest of the line.
    const match = /^(\S+)\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(.*)$/.exec(line);
    if (!match || match[1] !== 'w' || !match[2]?.startsWith('/sys/')) {
      throw new ProfileError(`${file}:${lineNo}: only "w /sys/… - - - - <value>" lines are supported, got "${line}"`);
    }
    const path = match[2];
    return {
      kind: 'sysfs',
      key: path,
      relativePath: pathUnderRoot('sysfs', path.slice('/sys/'.length), `${file}:${lineNo}`),
      value: normaliseValue(match[3] ?? ''),
      mode,
      source: { file, line: lineNo },
    };
  });
}

/**
 * The line loop both formats share: blank lines and comments are skipped, a `# check: …` comment sets the mode of the
 * next setting, and every setting is validated and unique in its file.
 */
function parseSettingLines(
  text: string,
  file: string,
  commentMarks: readonly string[],
  parseLine: (line: string, lineNo: number, mode: CheckMode) => ProfileSetting,
): ProfileSetting[] {
  const settings: ProfileSetting[] = [];
  let pending: CheckMode | undefined;
  text.split('\n').forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '') return;
    if (commentMarks.some((mark) => line.startsWith(mark))) {
      pending = checkAnnotation(line, file, lineNo) ?? pending;
      return;
    }
    settings.push(validated(parseLine(line, lineNo, pending ?? 'exact')));
    pending = undefined;
  });
  return unique(settings);
}

/** Compares values as the kernel prints them: vectors such as tcp_rmem come back tab-separated. */
export function normaliseValue(value: string): string {
  return value.trim().split(/\s+/).join(' ');
}

function unique(settings: ProfileSetting[]): ProfileSetting[] {
  const seen = new Map<string, ProfileSetting>();
  for (const s of settings) {
    const first = seen.get(s.relativePath);
    if (first) {
      throw new ProfileError(`${s.source.file}:${s.source.line}: ${s.key} is already set on line ${first.source.line}`);
    }
    seen.set(s.relativePath, s);
  }
  return settings;
}
