import { GIB, MIB, type Topology } from './topology.js';
import { PLANES, type PlaneName } from './roles.js';

/** How one plane is fitted: the CPUs (and NUMA nodes) it may use, its CPU weight and its memory limits. */
export interface PlaneFit {
  readonly cpus: readonly number[];
  /** Nodes its memory is bound to; empty on a one-node machine (no NUMA settings then). */
  readonly numaNodes: readonly number[];
  /** CPUQuota=: every CPU of the plane at 100 %. */
  readonly cpuQuotaPercent: number;
  readonly cpuWeight: number;
  readonly memoryMaxBytes: number;
  readonly memoryHighBytes: number;
}

export interface Fit {
  /** CPUs kept for the OS and NIC interrupts: no orchestrator process runs there. */
  readonly reservedCpus: readonly number[];
  /** True when two planes share CPUs (too few CPUs to give each its own): CPUWeight alone separates them. */
  readonly sharedCpus: boolean;
  readonly planes: Readonly<Record<PlaneName, PlaneFit>>;
  /** orchestrator.slice, the parent of the planes. */
  readonly total: Omit<PlaneFit, 'cpuWeight'>;
  /** Why the CPUs were split as they were, one sentence per line: written into the generated slices. */
  readonly notes: readonly string[];
}

// The control plane gates everything else (patch acceptance, relay, the coordinator handing out tasks), so it wins
// contention; fanout and runners are equal. Only relative values matter.
const PLANE_CPU_WEIGHT: Record<PlaneName, number> = { control: 200, runner: 100, fanout: 100 };
// Runners execute the nodes (JSONata, HTTP bodies) and hold the largest working set; fanout holds SSE connections.
const PLANE_MEMORY_SHARE: Record<PlaneName, number> = { control: 0.4, runner: 0.45, fanout: 0.15 };
/** MemoryHigh= throttles and reclaims at this fraction of MemoryMax=, before the OOM killer is involved. */
const MEMORY_HIGH_FRACTION = 0.9;
/** With fewer online CPUs on one node, the OS core plus one per plane does not fit. */
const MIN_CPUS_TO_ISOLATE = 4;

/**
 * Fits the planes to the machine (the rules are in infra/host-tuning/systemd/README.md):
 * - one node with 4+ CPUs: the first CPU is left to the OS and NIC interrupts, the rest split control 3/8, fanout 1/8
 *   (at least one each) and runners the remainder, disjoint;
 * - one node with 2-3 CPUs (or 1): nothing can be isolated, every plane may use every CPU, CPUWeight decides;
 * - two or more nodes with CPUs: control and fanout on the first node, runners on the others, memory bound to the
 *   plane's node(s); the first CPU of each node is left to the OS when its node has CPUs to spare.
 */
export function fitPlanes(topology: Topology): Fit {
  const cpuNodes = topology.nodes.filter((node) => node.cpus.length > 0);
  const split = cpuNodes.length >= 2 ? splitAcrossNodes(cpuNodes) : splitOneNode(topology.cpus);
  const budget = orchestratorMemory(topology.memoryBytes);
  const planes = Object.fromEntries(
    PLANES.map((plane) => {
      const { cpus, numaNodes } = split.planes[plane];
      const memoryMaxBytes = roundDownToMib(budget * PLANE_MEMORY_SHARE[plane]);
      const fit: PlaneFit = {
        cpus,
        numaNodes,
        cpuQuotaPercent: cpus.length * 100,
        cpuWeight: PLANE_CPU_WEIGHT[plane],
        memoryMaxBytes,
        memoryHighBytes: roundDownToMib(memoryMaxBytes * MEMORY_HIGH_FRACTION),
      };
      return [plane, fit];
    }),
  ) as Record<PlaneName, PlaneFit>;
  const allCpus = [...new Set(PLANES.flatMap((p) => planes[p].cpus))].sort((a, b) => a - b);
  const allNodes = [...new Set(PLANES.flatMap((p) => planes[p].numaNodes))].sort((a, b) => a - b);
  return {
    reservedCpus: split.reserved,
    sharedCpus: split.shared,
    planes,
    total: {
      cpus: allCpus,
      numaNodes: allNodes,
      cpuQuotaPercent: allCpus.length * 100,
      memoryMaxBytes: budget,
      memoryHighBytes: roundDownToMib(budget * MEMORY_HIGH_FRACTION),
    },
    notes: split.notes,
  };
}

/**
 * What the orchestrator's processes may use together: the rest is left to the kernel, the page cache (Kafka and
 * Postgres clients read through it) and whatever else runs on the host. A quarter, but at least 1 GiB (half on a very
 * small machine).
 */
export function orchestratorMemory(memoryBytes: number): number {
  const reserve = Math.max(memoryBytes * 0.25, Math.min(GIB, memoryBytes * 0.5));
  return roundDownToMib(memoryBytes - reserve);
}

interface Split {
  reserved: number[];
  shared: boolean;
  planes: Record<PlaneName, { cpus: number[]; numaNodes: number[] }>;
  notes: string[];
}

function splitOneNode(cpus: readonly number[]): Split {
  if (cpus.length < MIN_CPUS_TO_ISOLATE) {
    const all = { cpus: [...cpus], numaNodes: [] };
    return {
      reserved: [],
      shared: true,
      planes: { control: all, runner: all, fanout: all },
      notes: [
        `${cpus.length} CPU(s): too few to keep one for the OS and give each plane its own, so every plane may use`,
        `every CPU and CPUWeight alone decides who runs when they compete (${weights()}).`,
      ],
    };
  }
  const [os, ...rest] = cpus;
  const fanout = Math.max(1, Math.floor(rest.length / 8));
  const control = Math.max(1, Math.floor((rest.length * 3) / 8));
  return {
    reserved: [os!],
    shared: false,
    planes: {
      control: { cpus: rest.slice(0, control), numaNodes: [] },
      runner: { cpus: rest.slice(control, rest.length - fanout), numaNodes: [] },
      fanout: { cpus: rest.slice(rest.length - fanout), numaNodes: [] },
    },
    notes: [
      `CPU ${os} is left to the OS and NIC interrupts; of the other ${rest.length}, control takes 3/8, fanout 1/8`,
      '(at least one each) and runners the rest, so the planes never compete for a CPU.',
    ],
  };
}

function splitAcrossNodes(nodes: ReadonlyArray<{ id: number; cpus: readonly number[] }>): Split {
  const [first, ...others] = nodes;
  const reserved: number[] = [];
  // Node 0: control and fanout. They share the API's network traffic and the NIC's interrupts, which the steering
  // script keeps off the reserved cores.
  let control: number[];
  let fanout: number[];
  let shared = false;
  if (first!.cpus.length >= 3) {
    const [os, ...rest] = first!.cpus;
    reserved.push(os!);
    const fanoutCount = Math.max(1, Math.floor(rest.length / 4));
    control = rest.slice(0, rest.length - fanoutCount);
    fanout = rest.slice(rest.length - fanoutCount);
  } else {
    control = [...first!.cpus];
    fanout = [...first!.cpus];
    shared = true;
  }
  const runner: number[] = [];
  for (const node of others) {
    const keepFirst = node.cpus.length >= 2;
    if (keepFirst) reserved.push(node.cpus[0]!);
    runner.push(...node.cpus.slice(keepFirst ? 1 : 0));
  }
  const firstNode = [first!.id];
  const runnerNodes = others.map((node) => node.id);
  return {
    reserved,
    shared,
    planes: {
      control: { cpus: control, numaNodes: firstNode },
      runner: { cpus: runner, numaNodes: runnerNodes },
      fanout: { cpus: fanout, numaNodes: firstNode },
    },
    notes: [
      `${nodes.length} NUMA nodes with CPUs: control and fanout run on node ${first!.id}, runners on ${runnerNodes.join(',')}.`,
      "Each plane's memory is bound to its node(s), so no plane pays for remote memory.",
      reserved.length > 0
        ? `The first CPU of each node with CPUs to spare (${reserved.join(',')}) is left to the OS and NIC interrupts.`
        : 'No node has a CPU to spare for the OS.',
      ...(shared
        ? [
            `Node ${first!.id} has ${first!.cpus.length} CPU(s): control and fanout share them, separated by CPUWeight only.`,
          ]
        : []),
    ],
  };
}

const weights = (): string => PLANES.map((plane) => `${plane} ${PLANE_CPU_WEIGHT[plane]}`).join(', ');

const roundDownToMib = (bytes: number): number => Math.floor(bytes / MIB) * MIB;
