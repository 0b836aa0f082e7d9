#!/usr/bin/env -S node --disable-warning=TimeoutNegativeWarning
import { Command, CommanderError } from 'commander';
import { ConfigError } from '#libs/config';
import { registerApiCommands } from './api.command.js';
import { registerCache } from './cache.command.js';
import { CliError, EXIT } from './cli-support.js';
import { registerDlq } from './dlq.command.js';
import { registerHost } from './host.command.js';
import { registerLag } from './lag.command.js';
import { registerOutbox } from './outbox.command.js';
import { registerTail } from './tail.command.js';
import { registerTopics } from './topics.command.js';

/** `orchestrator`: the operators' command line. Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 unauthorized. */
const program = new Command('orchestrator')
  .description(
    'Operate the orchestrator: Kafka topics, tails, consumer lag, dead letters, the outbox, workflows, runs and the cache.\n' +
      'Kafka, registry and database come from KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL, KAFKA_TOPIC_PREFIX.\n' +
      'Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 not found, 4 unauthorized.',
  )
  .showHelpAfterError('(add --help for usage)');

registerTopics(program);
registerTail(program);
registerLag(program);
registerDlq(program);
registerOutbox(program);
registerApiCommands(program);
registerCache(program);
registerHost(program);

/** Every subcommand reports usage errors through the same path, so they all exit with 2. */
const exitOverride = (command: Command): void => {
  command.exitOverride();
  command.commands.forEach(exitOverride);
};
exitOverride(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help).
    const ok = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
    process.exitCode = ok ? EXIT.ok : EXIT.usage;
  } else if (error instanceof CliError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = EXIT.usage;
  } else {
    process.stderr.write(`error: ${(error as Error).message ?? String(error)}\n`);
    process.exitCode = EXIT.failed;
  }
  // A client still retrying in the background (an unreachable broker) must not hold the answer back; stdout and
  // stderr are pipes or files, written synchronously.
  process.exit();
}
