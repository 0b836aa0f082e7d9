import type { Command } from 'commander';
import {
  DEFAULT_MAX_CONNECTIONS,
  parseMemorySize,
  PostgresMachineError,
  postgresSettings,
  readMachineSize,
  renderPostgresConf,
  type PostgresMachine,
} from '#libs/host-tuning';
import { CliError, EXIT, intOption, json, out } from './cli-support.js';

interface PostgresConfOptions {
  memory?: string;
  cpus?: number;
  maxConnections: number;
  json?: boolean;
}

/** `orchestrator host postgres-conf`: engine settings scaled to this machine or to one described by flags. */
export function registerHostEngines(host: Command): void {
  host
    .command('postgres-conf')
    .description(
      'a postgresql.conf fragment scaled to the machine (memory, CPUs, connections), each setting with its reason ' +
        '(infra/postgres/README.md says how to include it)',
    )
    .option('--memory <size>', "the database machine's memory, e.g. 64G (default: this machine's, /proc/meminfo)")
    .option('--cpus <n>', "its CPU count (default: this machine's)", intOption('--cpus'))
    .option('--max-connections <n>', 'max_connections', intOption('--max-connections'), DEFAULT_MAX_CONNECTIONS)
    .option('--json', 'the settings as JSON ([{name, value, why}])')
    .action(async (options: PostgresConfOptions) => {
      const machine = await targetMachine(options);
      try {
        if (options.json) out(json(postgresSettings(machine)));
        else process.stdout.write(renderPostgresConf(machine));
      } catch (error) {
        if (error instanceof PostgresMachineError) throw new CliError(error.message, EXIT.usage);
        throw error;
      }
    });
}

async function targetMachine(options: PostgresConfOptions): Promise<PostgresMachine> {
  let memoryBytes: number | undefined;
  if (options.memory !== undefined) {
    try {
      memoryBytes = parseMemorySize(options.memory);
    } catch (error) {
      throw new CliError(`--memory: ${(error as Error).message}`, EXIT.usage);
    }
  }
  const here = memoryBytes === undefined || options.cpus === undefined ? await readMachineSize() : undefined;
  return {
    memoryBytes: memoryBytes ?? here?.memoryBytes ?? 0,
    cpus: options.cpus ?? here?.cpus ?? 0,
    maxConnections: options.maxConnections,
  };
}
