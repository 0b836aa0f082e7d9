import type { Command } from 'commander';
import { registerHostEngines } from './host-engines.command.js';
import { registerHostSysctl } from './host-sysctl.command.js';
import { registerHostUnits } from './host-units.command.js';

/** `orchestrator host …`: the host tuning kit (infra/host-tuning): check, apply and roll back; generate units. */
export function registerHost(program: Command): void {
  const host = program
    .command('host')
    .description('Host tuning kit: sysctl profile check/apply/rollback, systemd units, engine settings');
  registerHostSysctl(host);
  registerHostUnits(host);
  registerHostEngines(host);
}
