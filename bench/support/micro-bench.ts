import { idleBusy } from './cpu.js';
import { figuresJson, table, type Figure } from './report.js';
import { summarize } from './stats.js';

/**
 * What the in-process benchmarks (`bench:encoding`, `bench:expressions`, `bench:machine`) share: a header saying how
 * busy the machine was before the start, one sample per figure and round, and the table with its JSON line.
 */

const write = (text: string) => process.stdout.write(`${text}\n`);

/** Prints `name (date): detail; N cores busy before the start` and a blank line; returns how busy it was. */
export async function startMicroBench(name: string, detail: string): Promise<number> {
  const busy = await idleBusy(1_000);
  write(`${name} (${new Date().toISOString()}): ${detail}; ${busy.toFixed(2)} cores busy before the start`);
  write('');
  return busy;
}

/** One sample per round for each figure, by `<case>.<mode>` key. */
export class RoundSamples {
  private readonly byKey = new Map<string, number[]>();

  record(key: string, sample: number): void {
    this.byKey.set(key, [...(this.byKey.get(key) ?? []), sample]);
  }

  /** The latest sample of a figure, formatted for a progress line. */
  last(key: string): string {
    return this.byKey.get(key)?.at(-1)?.toFixed(1) ?? '–';
  }

  /** One figure per case and mode, in that order; `describe` names it and gives its unit. */
  figures<C extends { readonly key: string }, M extends string>(
    cases: readonly C[],
    modes: readonly M[],
    describe: (c: C, mode: M) => { label: string; unit: string },
  ): Figure[] {
    return cases.flatMap((c) =>
      modes.map((mode) => ({
        key: `${c.key}.${mode}`,
        ...describe(c, mode),
        summary: summarize(this.byKey.get(`${c.key}.${mode}`) ?? []),
        decimals: 1,
      })),
    );
  }
}

/** The table (median, min, max over the rounds), then one JSON line with the settings and every round's value. */
export function reportMicroBench(settings: object, busy: number, figures: readonly Figure[]): void {
  write(table(figures));
  write(JSON.stringify({ settings, coresBusyBefore: busy, figures: figuresJson(figures) }));
}
