import type { Summary } from './stats.js';

export interface Target {
  readonly text: string;
  readonly met: (median: number) => boolean;
}

export interface Figure {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly summary: Summary;
  readonly decimals: number;
  readonly target?: Target;
}

export const atLeast = (value: number, unit: string): Target => ({
  text: `≥ ${value} ${unit}`,
  met: (m) => m >= value,
});
export const atMost = (value: number, unit: string): Target => ({
  text: `≤ ${value} ${unit}`,
  met: (m) => m <= value,
});
export const below = (value: number, unit: string): Target => ({ text: `< ${value} ${unit}`, met: (m) => m < value });

const format = (value: number, decimals: number) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    : 'n/a';

/** The figures as an aligned text table: median, min, max over the runs, and the target where there is one. */
export function table(figures: readonly Figure[]): string {
  const rows = [
    ['figure', 'median', 'min', 'max', 'unit', 'runs', 'target', ''],
    ...figures.map((f) => [
      f.label,
      format(f.summary.median, f.decimals),
      format(f.summary.min, f.decimals),
      format(f.summary.max, f.decimals),
      f.unit,
      String(f.summary.runs.length),
      f.target?.text ?? '',
      f.target ? (f.target.met(f.summary.median) ? 'met' : 'MISSED') : '',
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  const numeric = new Set([1, 2, 3, 5]);
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        numeric.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  const [header, ...body] = rows as [string[], ...string[][]];
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The figures keyed for machines: medians, spread, every run's value, and whether each target was met. */
export function figuresJson(figures: readonly Figure[]): Record<string, unknown> {
  return Object.fromEntries(
    figures.map((f) => [
      f.key,
      {
        unit: f.unit,
        median: round(f.summary.median),
        min: round(f.summary.min),
        max: round(f.summary.max),
        runs: f.summary.runs.map(round),
        ...(f.target ? { target: f.target.text, met: f.target.met(f.summary.median) } : {}),
      },
    ]),
  );
}

export function round(value: number): number | null {
  return Number.isFinite(value) ? Math.round(value * 100) / 100 : null;
}
