/** One generated file: its path relative to the unit directory and its text. */
export interface UnitFile {
  readonly path: string;
  readonly content: string;
}

/** A line of a section: a key and its value, or a comment saying why. */
export type UnitLine = readonly [key: string, value: string | number] | { readonly comment: string };

export interface UnitSection {
  readonly name: string;
  readonly lines: readonly UnitLine[];
}

/** systemd's INI dialect: `# ` comments, `[Section]` headers, `Key=value` lines, a blank line between sections. */
export function renderUnit(header: readonly string[], sections: readonly UnitSection[]): string {
  const out = header.map((line) => `# ${line}`.trimEnd());
  for (const section of sections) {
    out.push('', `[${section.name}]`);
    for (const line of section.lines) {
      out.push('comment' in line ? `# ${line.comment}` : `${line[0]}=${line[1]}`);
    }
  }
  return `${out.join('\n')}\n`;
}
