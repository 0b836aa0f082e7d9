/**
 * The kernel's CPU list format (`0-3,8-11`), as in /sys/devices/system/cpu/online, a node's cpulist and systemd's
 * CPUAffinity=/AllowedCPUs=.
 */
export class CpuListError extends Error {
  override readonly name = 'CpuListError';
}

export function parseCpuList(text: string): number[] {
  const trimmed = text.trim();
  // An empty list is legal: a memory-only NUMA node has an empty cpulist.
  if (trimmed === '') return [];
  const cpus = new Set<number>();
  for (const part of trimmed.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) throw new CpuListError(`not a CPU list: "${text.trim()}" (expected e.g. 0-3,8-11)`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from) throw new CpuListError(`not a CPU list: "${text.trim()}" (range ${part} runs backwards)`);
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** Shortest form: consecutive ids collapse into ranges. */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
