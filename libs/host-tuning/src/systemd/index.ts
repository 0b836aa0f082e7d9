// systemd slices and services for every role, fitted to the machine's CPUs, NUMA nodes and memory.
export { CpuListError, formatCpuList, parseCpuList } from './cpu-list.js';
export { fitPlanes, orchestratorMemory, type Fit, type PlaneFit } from './fit-planes.js';
export {
  DEFAULT_UNIT_OPTIONS,
  describeTopology,
  generateUnits,
  HOST_TUNING_UNIT,
  serviceName,
  SLICE_NAMES,
  type UnitOptions,
} from './generate-units.js';
export { parseMemTotal, readTopology } from './read-topology.js';
export { PLANES, ROLE_UNITS, type PlaneName, type RoleUnit } from './roles.js';
export {
  GIB,
  parseSize,
  syntheticTopology,
  TopologyError,
  validateTopology,
  type NumaNode,
  type Topology,
} from './topology.js';
export type { UnitFile } from './unit-file.js';
