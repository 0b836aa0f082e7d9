import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import type { AppConfig } from '#libs/config';
import type { EventCodec } from '#libs/events';
import type { Kafka } from '#libs/kafka';
import { KafkaBatchServer, type KafkaBatchServerOptions } from '#libs/messaging';
import { Readiness } from './readiness.js';
import { CONFIG, EVENT_CODEC, KAFKA, LOGGER } from './tokens.js';

/**
 * A role's batch consumer on the app's Kafka connection and codec, with the settings every consumer group shares
 * (CONSUMER_MAX_ATTEMPTS, CONSUMER_SESSION_TIMEOUT_MS, CONSUMER_COMMIT_INTERVAL_MS). `group` names the consumer group (behind the deployment's
 * prefix) and its log component.
 */
export function roleConsumer(
  app: INestApplication,
  group: string,
  options: Omit<
    KafkaBatchServerOptions,
    'kafka' | 'codec' | 'logger' | 'groupId' | 'maxAttempts' | 'sessionTimeoutMs' | 'commitIntervalMs'
  >,
): KafkaBatchServer {
  const config = app.get<AppConfig>(CONFIG);
  const server = new KafkaBatchServer({
    kafka: app.get<Kafka>(KAFKA),
    codec: app.get<EventCodec>(EVENT_CODEC),
    logger: app.get<Logger>(LOGGER).child({ component: `${group}-consumer` }),
    groupId: `${config.KAFKA_TOPIC_PREFIX}${group}`,
    maxAttempts: config.CONSUMER_MAX_ATTEMPTS,
    sessionTimeoutMs: config.CONSUMER_SESSION_TIMEOUT_MS,
    commitIntervalMs: config.CONSUMER_COMMIT_INTERVAL_MS,
    ...options,
  });
  app.get(Readiness).track(server);
  return server;
}
