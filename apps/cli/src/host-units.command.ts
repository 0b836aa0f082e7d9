import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  CpuListError,
  DEFAULT_UNIT_OPTIONS,
  describeTopology,
  generateUnits,
  parseSize,
  readTopology,
  syntheticTopology,
  TopologyError,
  validateTopology,
  type Topology,
  type UnitFile,
} from '#libs/host-tuning';
import { CliError, EXIT, intOption, out, progress } from './cli-support.js';

interface UnitsOptions {
  out?: string;
  sys: string;
  cpus?: number;
  numaNodes?: number;
  memory?: string;
  installDir: string;
  user: string;
  envFile: string;
  shutdownTimeoutMs?: number;
  node?: string;
}

/** `orchestrator host units`: systemd slices and services fitted to this machine or to one described by flags. */
export function registerHostUnits(host: Command): void {
  host
    .command('units')
    .description(
      'systemd slices and services for every role, with CPU lists, NUMA binding and memory limits fitted to the ' +
        'machine (infra/host-tuning/systemd/README.md); printed, or written with --out',
    )
    .option('--out <dir>', 'write the files here instead of printing them')
    .option('--sys <dir>', 'root to read sys/devices/system/{cpu,node} and proc/meminfo from', '/')
    .option(
      '--cpus <n>',
      'describe a target machine with this many CPUs (0..n-1) instead of this one',
      intOption('--cpus'),
    )
    .option(
      '--numa-nodes <n>',
      'number of NUMA nodes of the target machine (1 unless given)',
      intOption('--numa-nodes'),
    )
    .option('--memory <size>', 'memory of the target machine, e.g. 64G or 512M')
    .option('--install-dir <dir>', 'where the built project is installed', DEFAULT_UNIT_OPTIONS.installDir)
    .option('--node <path>', 'the Node binary (default: <install-dir>/node_modules/.bin/node)')
    .option('--user <name>', 'user the services run as', DEFAULT_UNIT_OPTIONS.user)
    .option('--env-file <path>', 'environment file every role reads (must not set PORT)', DEFAULT_UNIT_OPTIONS.envFile)
    .option(
      '--shutdown-timeout-ms <ms>',
      "the apps' SHUTDOWN_TIMEOUT_MS (default: libs/config's)",
      intOption('--shutdown-timeout-ms'),
    )
    .action(async (options: UnitsOptions) => {
      let files: UnitFile[];
      let topology: Topology;
      try {
        topology = await targetTopology(options);
        files = generateUnits(topology, {
          installDir: resolve(options.installDir),
          user: options.user,
          envFile: options.envFile,
          ...(options.shutdownTimeoutMs === undefined ? {} : { shutdownTimeoutMs: options.shutdownTimeoutMs }),
          ...(options.node === undefined ? {} : { nodePath: options.node }),
        });
      } catch (error) {
        if (error instanceof TopologyError || error instanceof CpuListError) {
          throw new CliError(error.message, EXIT.usage);
        }
        throw error;
      }
      if (options.out === undefined) {
        files.forEach((file, i) => out(`${i > 0 ? '\n' : ''}==> ${file.path} <==\n${file.content.trimEnd()}`));
        return;
      }
      for (const file of files) {
        const path = join(options.out, file.path);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, file.content);
        out(path);
      }
      progress(`fitted to ${describeTopology(topology)}`);
    });
}

/** This machine (or the tree under --sys), with whatever --cpus/--numa-nodes/--memory say instead. */
async function targetTopology(options: UnitsOptions): Promise<Topology> {
  const memory = options.memory === undefined ? undefined : parseSize(options.memory);
  if (options.cpus === undefined && options.numaNodes === undefined) {
    const here = await readTopology(options.sys);
    return validateTopology(memory === undefined ? here : { ...here, memoryBytes: memory });
  }
  const here = options.cpus === undefined || memory === undefined ? await readTopology(options.sys) : undefined;
  return syntheticTopology(options.cpus ?? here!.cpus.length, options.numaNodes ?? 1, memory ?? here!.memoryBytes);
}
