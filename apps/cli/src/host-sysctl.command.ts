import type { Command } from 'commander';

/** Placeholder: filled in by the sysctl work stream. */
export function registerHostSysctl(_host: Command): void {}
