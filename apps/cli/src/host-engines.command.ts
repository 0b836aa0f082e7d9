import type { Command } from 'commander';

/** Placeholder: filled in by the engines work stream. */
export function registerHostEngines(_host: Command): void {}
