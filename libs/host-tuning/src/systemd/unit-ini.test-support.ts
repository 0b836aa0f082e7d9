/**
 * A strict reader of systemd's INI dialect for the tests: every line is blank, a `#` comment, a `[Section]` header or
 * `Key=value` with a key systemd could accept; anything else throws, naming the line.
 */
export type ParsedUnit = Map<string, Array<[key: string, value: string]>>;

export function parseUnitIni(text: string, name = 'unit'): ParsedUnit {
  const sections: ParsedUnit = new Map();
  let current: Array<[string, string]> | undefined;
  text.split('\n').forEach((line, i) => {
    if (line === '' || line.startsWith('#')) return;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      if (sections.has(header[1]!)) throw new Error(`${name}:${i + 1}: section [${header[1]}] twice`);
      current = [];
      sections.set(header[1]!, current);
      return;
    }
    const entry = /^([A-Z][A-Za-z0-9]*)=(\S.*)$/.exec(line);
    if (!entry) throw new Error(`${name}:${i + 1}: not a systemd line: ${JSON.stringify(line)}`);
    if (!current) throw new Error(`${name}:${i + 1}: ${entry[1]}= before any section`);
    if (/\s$/.test(entry[2]!)) throw new Error(`${name}:${i + 1}: trailing white space`);
    current.push([entry[1]!, entry[2]!]);
  });
  if (!text.endsWith('\n')) throw new Error(`${name}: no newline at the end`);
  return sections;
}

/** The one value of `key` in `section`; throws when it is missing or set twice. */
export function value(unit: ParsedUnit, section: string, key: string): string {
  const values = allValues(unit, section, key);
  if (values.length !== 1) throw new Error(`[${section}] ${key}= is set ${values.length} times`);
  return values[0]!;
}

export const allValues = (unit: ParsedUnit, section: string, key: string): string[] =>
  (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);

/** `17694M` → bytes. */
export const megabytes = (text: string): number => {
  const match = /^(\d+)M$/.exec(text);
  if (!match) throw new Error(`not a size in M: ${text}`);
  return Number(match[1]) * 1024 * 1024;
};
