import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '#libs/config';
import type { EventCodec } from '#libs/events';
import { KafkaBatchServer } from '#libs/messaging';
import { CONFIG, EVENT_CODEC, KAFKA, LOGGER, type RoleDefinition } from '#libs/platform';
import { RunProjectorModule } from './run-projector.module.js';

export const runProjectorRole: RoleDefinition = {
  name: 'run-projector',
  module: RunProjectorModule,
  defaultPort: 9408,
  transports: (app) => {
    const config = app.get<AppConfig>(CONFIG);
    return [
      new KafkaBatchServer({
        kafka: app.get<Kafka>(KAFKA),
        codec: app.get<EventCodec>(EVENT_CODEC),
        logger: app.get<Logger>(LOGGER).child({ component: 'run-projector-consumer' }),
        groupId: `${config.KAFKA_TOPIC_PREFIX}run-projector`,
        topics: ['run.state'],
        maxWaitTimeInMs: config.COORDINATOR_MAX_WAIT_MS,
        maxAttempts: config.CONSUMER_MAX_ATTEMPTS,
        sessionTimeoutMs: config.CONSUMER_SESSION_TIMEOUT_MS,
        partitionsConsumedConcurrently: config.COORDINATOR_CONCURRENCY,
        skipTombstones: true,
      }),
    ];
  },
};
