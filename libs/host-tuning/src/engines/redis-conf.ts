/** One directive of a redis.conf: its name and its arguments as one string (`save ""` gives an empty value). */
export interface RedisDirective {
  readonly name: string;
  readonly value: string;
}

/**
 * Parses redis.conf directives (`name arg…`, # comments). Quoted arguments are unquoted; escapes inside quotes are
 * not supported (our file has none), and a directive given twice is refused rather than guessing which one wins.
 */
export function parseRedisConf(text: string): RedisDirective[] {
  const seen = new Set<string>();
  const directives: RedisDirective[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const tokens = [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
    const name = (tokens.shift() ?? '').toLowerCase();
    if (seen.has(name)) throw new Error(`line ${index + 1}: ${name} is set twice`);
    seen.add(name);
    directives.push({ name, value: tokens.join(' ') });
  }
  return directives;
}

const UNITS: Record<string, number> = { k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };

/** A value as CONFIG GET reports it: memory sizes (`2gb`, `100mb`, `1k`) in bytes, everything else as written. */
export function asConfigGetValue(value: string): string {
  const size = /^(\d+)(k|kb|m|mb|g|gb)$/i.exec(value);
  return size ? String(Number(size[1]) * (UNITS[(size[2] ?? '').toLowerCase()] ?? 1)) : value;
}

/** Dragonfly's flag file (`--name=value` lines) as a map from flag name to value. */
export function parseDragonflyFlags(text: string): Map<string, string> {
  const flags = new Map<string, string>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^--([a-z_]+)=(.*)$/.exec(line);
    if (!match) throw new Error(`line ${index + 1}: not --name=value: ${line}`);
    flags.set(match[1] ?? '', match[2] ?? '');
  }
  return flags;
}
