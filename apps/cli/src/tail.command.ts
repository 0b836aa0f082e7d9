import { type Command } from 'commander';
import { createSchemaRegistry } from '#libs/events';
import type { KafkaMessage } from '#libs/kafka';
import {
  CliError,
  config,
  headersToStrings,
  intOption,
  json,
  out,
  progress,
  resolveTopic,
  withAdmin,
} from './cli-support.js';
import { readTopic } from './topic-reader.js';

/** Decodes a message value through the Schema Registry into one JSON-able line; undecodable values get `error`. */
export async function decodeMessage(
  decode: (value: Buffer) => Promise<unknown>,
  topic: string,
  partition: number,
  message: KafkaMessage,
): Promise<{ line: Record<string, unknown>; error?: string }> {
  const base = {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: new Date(Number(message.timestamp)).toISOString(),
    key: message.key?.toString('utf8') ?? null,
    headers: headersToStrings(message.headers),
  };
  if (!message.value) return { line: { ...base, value: null } };
  try {
    return { line: { ...base, value: await decode(message.value) } };
  } catch (error) {
    const reason = `cannot decode: ${(error as Error).message}`;
    return { line: { ...base, error: reason, raw: message.value.toString('base64') }, error: reason };
  }
}

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
            onMessage: async (message, partition) => {
              const { line, error } = await decodeMessage((v) => registry.decode(v), topic, partition, message);
              out(json(line));
              if (error) {
                undecodable++;
                progress(`error: ${topic} partition ${partition} offset ${message.offset}: ${error}`);
              }
            },
          });
        });
        if (undecodable) throw new CliError(`${undecodable} message(s) could not be decoded`);
      },
    );
}
