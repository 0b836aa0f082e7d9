import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { AppConfig } from '#libs/config';
import type { EventCodec } from '#libs/events';
import { KafkaBatchServer } from '#libs/messaging';
import { CONFIG, EVENT_CODEC, KAFKA, LOGGER, type RoleDefinition } from '#libs/platform';
import { MaterializerModule } from './materializer.module.js';

export const materializerRole: RoleDefinition = {
  name: 'materializer',
  module: MaterializerModule,
  defaultPort: 9402,
  transports: (app) => {
    const config = app.get<AppConfig>(CONFIG);
    return [
      new KafkaBatchServer({
        kafka: app.get<Kafka>(KAFKA),
        codec: app.get<EventCodec>(EVENT_CODEC),
        logger: app.get<Logger>(LOGGER).child({ component: 'materializer-consumer' }),
        groupId: `${config.KAFKA_TOPIC_PREFIX}materializer`,
        topics: ['patch.created'],
        maxWaitTimeInMs: config.MATERIALIZER_MAX_WAIT_MS,
        minBytes: config.MATERIALIZER_MIN_BYTES,
        maxAttempts: config.CONSUMER_MAX_ATTEMPTS,
        sessionTimeoutMs: config.CONSUMER_SESSION_TIMEOUT_MS,
      }),
    ];
  },
};
