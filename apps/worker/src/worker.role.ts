import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '#libs/config';
import { dispatchTopic, type EventCodec } from '#libs/events';
import { KafkaBatchServer } from '#libs/messaging';
import { CONFIG, EVENT_CODEC, KAFKA, LOGGER, type RoleDefinition } from '#libs/platform';
import { WorkerModule } from './worker.module.js';
import { WorkerService } from './worker.service.js';

/** One consumer group per node type in WORKER_TYPES, so each type scales (and lags) on its own. */
export const workerRole: RoleDefinition = {
  name: 'worker',
  module: WorkerModule,
  defaultPort: 9404,
  transports: (app) => {
    const config = app.get<AppConfig>(CONFIG);
    const worker = app.get(WorkerService);
    return config.WORKER_TYPES.map(
      (type) =>
        new KafkaBatchServer({
          kafka: app.get<Kafka>(KAFKA),
          codec: app.get<EventCodec>(EVENT_CODEC),
          logger: app.get<Logger>(LOGGER).child({ component: `worker-${type}` }),
          groupId: `${config.KAFKA_TOPIC_PREFIX}worker-${type}`,
          topics: [dispatchTopic(type)],
          maxWaitTimeInMs: config.WORKER_MAX_WAIT_MS,
          maxAttempts: config.CONSUMER_MAX_ATTEMPTS,
          sessionTimeoutMs: config.CONSUMER_SESSION_TIMEOUT_MS,
          partitionsConsumedConcurrently: config.WORKER_CONCURRENCY,
          onDeadLetters: (letters) => worker.reportPoisonedTasks(letters),
        }),
    );
  },
};
