import { type Command } from 'commander';
import { createSchemaRegistry } from '#libs/events';
import { readTopic } from '#libs/kafka';
import { decodeMessage } from '#libs/messaging';
import {
  CliError,
  config,
  interrupted,
  intOption,
  json,
  out,
  progress,
  resolveTopic,
  withAdmin,
} from './cli-support.js';

export function registerTail(program: Command): void {
  program
    .command('tail')
    .description(
      'print messages of a topic as JSON lines (key, partition, offset, headers, value decoded through the Schema Registry)',
    )
    .argument('<topic>', 'full name, or the name without the deployment prefix')
    .option('--from-beginning', 'start at the earliest offset instead of new messages only')
    .option('--max <n>', 'stop after n messages', intOption('--max'))
    .option('--partition <p>', 'only this partition', intOption('--partition'))
    .option('--idle-timeout <ms>', 'stop after this long without a message', intOption('--idle-timeout'))
    .action(
      async (
        name: string,
        options: { fromBeginning?: boolean; max?: number; partition?: number; idleTimeout?: number },
      ) => {
        const registry = createSchemaRegistry(config().SCHEMA_REGISTRY_URL);
        let undecodable = 0;
        await withAdmin(async (admin, kafka) => {
          const topic = await resolveTopic(admin, name);
          progress(`tailing ${topic}${options.fromBeginning ? ' from the beginning' : ''} (Ctrl-C stops)`);
          await readTopic(kafka, admin, topic, {
            fromBeginning: options.fromBeginning ?? false,
            ...(options.max !== undefined ? { max: options.max } : {}),
            ...(options.partition !== undefined ? { partition: options.partition } : {}),
            ...(options.idleTimeout !== undefined ? { idleMs: options.idleTimeout } : {}),
            signal: interrupted(),
            onMessage: async (message, partition) => {
              const line = await decodeMessage((v) => registry.decode(v), topic, partition, message);
              out(json(line));
              if (line.error) {
                undecodable++;
                progress(`error: ${topic} partition ${partition} offset ${message.offset}: ${line.error}`);
              }
            },
          });
        });
        if (undecodable) throw new CliError(`${undecodable} message(s) could not be decoded`);
      },
    );
}
