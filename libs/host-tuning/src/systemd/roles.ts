/** The three planes the roles are grouped into; each is a slice under orchestrator.slice. */
export type PlaneName = 'control' | 'runner' | 'fanout';

export const PLANES: readonly PlaneName[] = ['control', 'runner', 'fanout'];

export interface RoleUnit {
  /** The role's name, as in apps/<role>/ and its RoleDefinition. */
  readonly role: string;
  readonly plane: PlaneName;
  /** The role's default PORT when it runs alone (README, Addresses). */
  readonly port: number;
  /** CPU share inside its plane's slice when the plane is busy (systemd's default is 100). */
  readonly cpuWeight: number;
  /** Share of the plane's memory; the shares of one plane sum to at most 1. */
  readonly memoryShare: number;
  /** A template unit (`orchestrator-worker@.service`) whose instance name is WORKER_TYPES. */
  readonly template?: boolean;
}

// The API answers clients and the coordinator moves every run forward, so they win the plane's CPU when it is
// contended; relay, materializer and run projector work in batches off the runs' path and absorb a delay. The API
// holds the most connections and caches, hence the largest memory share; the coordinator holds its runs in memory.
export const ROLE_UNITS: readonly RoleUnit[] = [
  { role: 'api', plane: 'control', port: 8080, cpuWeight: 200, memoryShare: 0.3 },
  { role: 'coordinator', plane: 'control', port: 9403, cpuWeight: 200, memoryShare: 0.25 },
  { role: 'outbox-relay', plane: 'control', port: 9401, cpuWeight: 100, memoryShare: 0.1 },
  { role: 'materializer', plane: 'control', port: 9402, cpuWeight: 100, memoryShare: 0.2 },
  { role: 'run-projector', plane: 'control', port: 9408, cpuWeight: 100, memoryShare: 0.15 },
  { role: 'worker', plane: 'runner', port: 9404, cpuWeight: 100, memoryShare: 1, template: true },
  { role: 'fanout', plane: 'fanout', port: 9405, cpuWeight: 100, memoryShare: 1 },
];

/**
 * Worker instances that split the node types over two processes: the second one needs a port of its own (a drop-in),
 * since both would otherwise take the template's 9404.
 */
export const WORKER_INSTANCE_PORTS: ReadonlyArray<{ instance: string; port: number }> = [
  { instance: 'http_request', port: 9406 },
  // Agent workers wait on a model provider for seconds per task: a process of their own keeps that off the others.
  { instance: 'agent', port: 9407 },
];

/** The default worker instance runs every node type in one process, as the all-in-one does. */
export const DEFAULT_WORKER_TYPES = 'function,http_request';
