import { z } from 'zod';
import { timestamp } from '../common.js';
import { defineRoute } from '../route.js';

/**
 * What spans every workspace: consumer lag, the outbox, dead-letter topics. Admin keys of an operators' workspace
 * only (the bootstrap workspace `default` is one); an admin of any other workspace gets 403.
 */
const partitionLag = z.object({
  partition: z.int(),
  committedOffset: z.int().nullable().meta({ description: 'null: the group never committed on this partition.' }),
  endOffset: z.int(),
  lag: z.int(),
});

export const consumerGroupLagSchema = z
  .object({
    group: z.string(),
    state: z.string().meta({ description: 'Stable, PreparingRebalance, CompletingRebalance, Empty, Dead.' }),
    members: z.int(),
    lag: z.int().meta({ description: 'Messages behind, summed over its partitions.' }),
    topics: z.array(z.object({ topic: z.string(), lag: z.int(), partitions: z.array(partitionLag) })),
  })
  .meta({ id: 'ConsumerGroupLag' });

export const getConsumerLag = defineRoute({
  operationId: 'getConsumerLag',
  method: 'get',
  path: '/v1/operator/consumer-lag',
  tag: 'operator',
  summary: 'Every consumer group of this deployment: its state, members and lag per topic and partition',
  access: 'operator',
  query: z.object({
    group: z.string().max(249).optional().meta({ description: 'Only this group (its full id).' }),
  }),
  status: 200,
  response: {
    description: 'The groups, read from the brokers now.',
    schema: z.object({ at: timestamp, groups: z.array(consumerGroupLagSchema) }),
  },
  problems: [400],
  example: {},
});

const aged = { rows: z.int(), oldestAgeSeconds: z.number() };

export const getOutboxStatus = defineRoute({
  operationId: 'getOutboxStatus',
  method: 'get',
  path: '/v1/operator/outbox',
  tag: 'operator',
  summary: 'Rows waiting in the transactional outbox per topic and lane, the relays alive, the dead rows',
  access: 'operator',
  status: 200,
  response: {
    description: 'The outbox now.',
    schema: z
      .object({
        rows: z.int(),
        oldestAgeSeconds: z.number().nullable(),
        topics: z.array(z.object({ topic: z.string(), ...aged })),
        lanes: z.array(z.object({ lane: z.int(), ...aged })),
        relays: z.array(z.object({ relayId: z.string(), lastSeenAgeSeconds: z.number() })),
        deadRows: z.int().meta({ description: 'Rows the broker refused for good (`orchestrator outbox dead list`).' }),
      })
      .meta({ id: 'OutboxStatus' }),
  },
  example: {},
});

export const deadLetterTopicSchema = z
  .object({
    topic: z.string(),
    messages: z.int().meta({ description: 'Messages kept on the topic.' }),
    notRedriven: z.int().meta({ description: 'Messages not redriven yet (by the console, the API or the CLI).' }),
  })
  .meta({ id: 'DeadLetterTopic' });

export const listDeadLetterTopics = defineRoute({
  operationId: 'listDeadLetterTopics',
  method: 'get',
  path: '/v1/operator/dead-letter-topics',
  tag: 'operator',
  summary: 'The dead-letter topics (`<topic>.dlq`) with their message counts',
  access: 'operator',
  status: 200,
  response: { description: 'Every dead-letter topic.', schema: z.object({ topics: z.array(deadLetterTopicSchema) }) },
  example: {},
});

const dlqTopicParams = z.object({
  topic: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}\.dlq$/, { error: 'no such dead-letter topic' })
    .meta({ description: 'The dead-letter topic, with or without the deployment prefix: `run.requested.dlq`.' }),
});

export const deadLetterMessageSchema = z
  .object({
    topic: z.string(),
    partition: z.int(),
    offset: z.int(),
    timestamp,
    key: z.string().nullable(),
    headers: z.record(z.string(), z.string()),
    dlq: z
      .record(z.string(), z.string())
      .meta({ description: 'Why and where from: dlq.error, dlq.source.topic/partition/offset, dlq.attempts.' }),
    value: z.unknown().optional().meta({ description: 'The value decoded through the Schema Registry.' }),
    error: z.string().optional().meta({ description: 'Why the value could not be decoded.' }),
    raw: z.string().optional().meta({ description: 'The undecodable value, base64.' }),
  })
  .meta({ id: 'DeadLetterMessage' });

const maxMessages = (most: number, byDefault: number) =>
  z.coerce
    .number({ error: `must be an integer from 1 to ${most}` })
    .int({ error: `must be an integer from 1 to ${most}` })
    .min(1, { error: `must be an integer from 1 to ${most}` })
    .max(most, { error: `must be an integer from 1 to ${most}` })
    .default(byDefault);

export const listDeadLetters = defineRoute({
  operationId: 'listDeadLetters',
  method: 'get',
  path: '/v1/operator/dead-letter-topics/{topic}/messages',
  tag: 'operator',
  summary: 'The messages of a dead-letter topic, oldest first, decoded, with why each failed',
  access: 'operator',
  params: dlqTopicParams,
  query: z.object({ max: maxMessages(500, 50).meta({ description: 'At most this many (1 to 500).' }) }),
  status: 200,
  response: {
    description: 'Its messages from the start, up to `max`.',
    schema: z.object({ topic: z.string(), messages: z.array(deadLetterMessageSchema) }),
  },
  problems: [400, 404],
  example: { params: { topic: 'run.requested.dlq' }, query: { max: '20' } },
});

export const redriveDeadLetters = defineRoute({
  operationId: 'redriveDeadLetters',
  method: 'post',
  path: '/v1/operator/dead-letter-topics/{topic}/redrive',
  tag: 'operator',
  summary: 'Republishes dead letters not redriven yet to their source topic, each once',
  description:
    'Original key, value and headers, minus `dlq.*`. Each is committed on the redrive group the CLI uses too once ' +
    'the broker has it, so a message is redriven once whoever asks. A dry run publishes and commits nothing.',
  access: 'operator',
  params: dlqTopicParams,
  body: z.object({
    max: maxMessages(10_000, 1_000).meta({ description: 'At most this many (1 to 10,000).' }),
    dryRun: z.boolean().default(false),
  }),
  bodyOptional: true,
  status: 200,
  response: {
    description: 'What was (or would be) republished, in order.',
    schema: z.object({
      topic: z.string(),
      dryRun: z.boolean(),
      redriven: z.array(
        z.object({
          partition: z.int(),
          offset: z.int(),
          to: z.string().meta({ description: 'The source topic it went back to.' }),
          key: z.string().nullable(),
        }),
      ),
    }),
  },
  problems: [404, 409, 422],
  example: { params: { topic: 'run.requested.dlq' }, body: { max: 100, dryRun: true } },
});

export const OPERATOR_ROUTES = [
  getConsumerLag,
  getOutboxStatus,
  listDeadLetterTopics,
  listDeadLetters,
  redriveDeadLetters,
] as const;
