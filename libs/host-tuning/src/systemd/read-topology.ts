import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCpuList } from './cpu-list.js';
import { TopologyError, validateTopology, type NumaNode, type Topology } from './topology.js';

/**
 * Reads this machine's topology from sysfs and procfs under `root` (`/` on a real host, a fixture tree in tests):
 * sys/devices/system/cpu/online, sys/devices/system/node/node<N>/cpulist and proc/meminfo.
 */
export async function readTopology(root = '/'): Promise<Topology> {
  const cpus = parseCpuList(await readText(root, 'sys/devices/system/cpu/online'));
  const online = new Set(cpus);
  const nodes = await readNodes(root);
  return validateTopology({
    cpus,
    // A node's cpulist follows hotplug on most architectures, but not all: only online CPUs can be pinned to.
    nodes: nodes
      ? nodes.map((node) => ({ id: node.id, cpus: node.cpus.filter((cpu) => online.has(cpu)) }))
      : [{ id: 0, cpus }],
    memoryBytes: parseMemTotal(await readText(root, 'proc/meminfo')),
  });
}

/** Undefined when the kernel has no NUMA support (no node directory): the machine is one node. */
async function readNodes(root: string): Promise<NumaNode[] | undefined> {
  const dir = join(root, 'sys/devices/system/node');
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const ids = entries
    .map((name) => /^node(\d+)$/.exec(name)?.[1])
    .filter((id): id is string => id !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  if (ids.length === 0) return undefined;
  return Promise.all(
    ids.map(async (id) => ({
      id,
      cpus: parseCpuList(await readText(root, `sys/devices/system/node/node${id}/cpulist`)),
    })),
  );
}

export function parseMemTotal(meminfo: string): number {
  const match = /^MemTotal:\s+(\d+)\s+kB$/m.exec(meminfo);
  if (!match) throw new TopologyError('no "MemTotal: … kB" line in proc/meminfo');
  return Number(match[1]) * 1024;
}

async function readText(root: string, path: string): Promise<string> {
  try {
    return await readFile(join(root, path), 'utf8');
  } catch (error) {
    throw new TopologyError(`cannot read ${join(root, path)}: ${(error as Error).message}`);
  }
}
