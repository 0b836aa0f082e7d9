import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/**
 * `24G`, `24GiB`, `24GB`, `512M`, `1.5T` or plain bytes. Units are binary whatever the spelling, as /proc/meminfo and
 * postgresql.conf count them.
 */
export function parseMemorySize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:i?B)?|B)?\s*$/i.exec(text);
  if (!match) throw new Error(`not a size: "${text}" (e.g. 24G, 512M or bytes)`);
  const power = { K: 1, M: 2, G: 3, T: 4 }[(match[2] ?? '').toUpperCase()] ?? 0;
  return Math.floor(Number(match[1]) * 1024 ** power);
}

export function parseMemTotal(meminfo: string): number {
  const match = /^MemTotal:\s+(\d+)\s+kB$/m.exec(meminfo);
  if (!match) throw new Error('no "MemTotal: … kB" line in /proc/meminfo');
  return Number(match[1]) * 1024;
}

/** This machine's memory and usable CPUs (honours the process' CPU affinity, as a pinned database would). */
export async function readMachineSize(root = '/'): Promise<{ memoryBytes: number; cpus: number }> {
  return {
    memoryBytes: parseMemTotal(await readFile(join(root, 'proc/meminfo'), 'utf8')),
    cpus: availableParallelism(),
  };
}
