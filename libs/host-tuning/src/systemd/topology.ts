import { formatCpuList } from './cpu-list.js';

/** What the unit generator needs to know about a machine. */
export interface Topology {
  /** Online CPU ids, ascending. */
  readonly cpus: readonly number[];
  /** NUMA nodes with their online CPUs; a memory-only node has none. One node when the kernel has no NUMA. */
  readonly nodes: readonly NumaNode[];
  readonly memoryBytes: number;
}

export interface NumaNode {
  readonly id: number;
  readonly cpus: readonly number[];
}

/** A machine description that cannot be fitted: the CLI reports it as a usage error. */
export class TopologyError extends Error {
  override readonly name = 'TopologyError';
}

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;
/** Below this there is no room for the OS and one Node process per role. */
export const MIN_MEMORY_BYTES = 512 * MIB;

/** Throws a TopologyError naming what is wrong; returns the topology unchanged when it can be fitted. */
export function validateTopology(topology: Topology): Topology {
  const { cpus, nodes, memoryBytes } = topology;
  if (cpus.length === 0) throw new TopologyError('no online CPUs: at least 1 is needed');
  if (nodes.length === 0) throw new TopologyError('no NUMA nodes: at least 1 is needed');
  if (!Number.isFinite(memoryBytes) || memoryBytes < MIN_MEMORY_BYTES) {
    throw new TopologyError(`${memoryBytes} bytes of memory: at least ${MIN_MEMORY_BYTES / MIB} MiB are needed`);
  }
  const online = new Set(cpus);
  const owner = new Map<number, number>();
  for (const node of nodes) {
    for (const cpu of node.cpus) {
      if (!online.has(cpu)) throw new TopologyError(`NUMA node ${node.id} lists CPU ${cpu}, which is not online`);
      const other = owner.get(cpu);
      if (other !== undefined) throw new TopologyError(`CPU ${cpu} is in NUMA nodes ${other} and ${node.id}`);
      owner.set(cpu, node.id);
    }
  }
  const uncovered = cpus.filter((cpu) => !owner.has(cpu));
  if (uncovered.length > 0) {
    throw new TopologyError(`the NUMA nodes do not cover online CPUs ${formatCpuList(uncovered)}`);
  }
  return topology;
}

/**
 * A target machine described by counts: CPUs 0..n-1, split into contiguous equal blocks per node (the first nodes take
 * the remainder), which is how most x86 firmware numbers them without SMT interleaving.
 */
export function syntheticTopology(cpuCount: number, nodeCount: number, memoryBytes: number): Topology {
  if (!Number.isInteger(cpuCount) || cpuCount < 1) throw new TopologyError(`--cpus ${cpuCount}: at least 1 CPU`);
  if (!Number.isInteger(nodeCount) || nodeCount < 1) {
    throw new TopologyError(`--numa-nodes ${nodeCount}: at least 1 node`);
  }
  if (nodeCount > cpuCount) {
    throw new TopologyError(`${nodeCount} NUMA nodes for ${cpuCount} CPUs: every node needs a CPU of its own`);
  }
  const cpus = Array.from({ length: cpuCount }, (_, i) => i);
  const nodes: NumaNode[] = [];
  let next = 0;
  for (let id = 0; id < nodeCount; id++) {
    const size = Math.floor(cpuCount / nodeCount) + (id < cpuCount % nodeCount ? 1 : 0);
    nodes.push({ id, cpus: cpus.slice(next, next + size) });
    next += size;
  }
  return validateTopology({ cpus, nodes, memoryBytes });
}

/** `64G`, `64GiB`, `512M`, `1.5T` or plain bytes; units are binary (as systemd and /proc/meminfo count). */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:i?B)?|B)?\s*$/i.exec(text);
  if (!match) throw new TopologyError(`not a size: "${text}" (expected e.g. 64G, 512M or bytes)`);
  const power = { K: 1, M: 2, G: 3, T: 4 }[(match[2] ?? '').toUpperCase()] ?? 0;
  return Math.floor(Number(match[1]) * 1024 ** power);
}
