import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '#libs/config';
import type { EventCodec } from '#libs/events';
import { CoPartitionedAssigner, KafkaBatchServer } from '#libs/messaging';
import { CONFIG, EVENT_CODEC, KAFKA, LOGGER, type RoleDefinition } from '#libs/platform';
import { CoordinatorModule } from './coordinator.module.js';
import { CoordinatorService } from './coordinator.service.js';

export const coordinatorRole: RoleDefinition = {
  name: 'coordinator',
  module: CoordinatorModule,
  defaultPort: 9403,
  transports: (app) => {
    const config = app.get<AppConfig>(CONFIG);
    const coordinator = app.get(CoordinatorService);
    return [
      new KafkaBatchServer({
        kafka: app.get<Kafka>(KAFKA),
        codec: app.get<EventCodec>(EVENT_CODEC),
        logger: app.get<Logger>(LOGGER).child({ component: 'coordinator-consumer' }),
        groupId: `${config.KAFKA_TOPIC_PREFIX}coordinator`,
        topics: ['run.requested', 'node.completed', 'run.control'],
        maxWaitTimeInMs: config.COORDINATOR_MAX_WAIT_MS,
        maxAttempts: config.CONSUMER_MAX_ATTEMPTS,
        sessionTimeoutMs: config.CONSUMER_SESSION_TIMEOUT_MS,
        partitionsConsumedConcurrently: config.COORDINATOR_CONCURRENCY,
        partitionAssigners: [CoPartitionedAssigner],
        onRebalance: (assignment) => coordinator.assign(assignment),
        onDeadLetters: (letters, position) => coordinator.failPoisonedRuns(letters, position),
      }),
    ];
  },
};
