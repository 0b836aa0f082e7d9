import type { Command } from 'commander';

/** Placeholder: filled in by the units work stream. */
export function registerHostUnits(_host: Command): void {}
