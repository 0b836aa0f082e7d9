import { Controller, Inject } from '@nestjs/common';
import type { Logger } from 'pino';
import {
  getConsumerLag,
  getOutboxStatus,
  listDeadLetters,
  listDeadLetterTopics as listDeadLetterTopicsRoute,
  redriveDeadLetters as redriveDeadLettersRoute,
  type RouteInput,
  type RouteOutput,
} from '#libs/api-contract';
import { Input, ServesRoute } from '#libs/auth';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import type { EventCodec } from '#libs/events';
import { readConsumerLag, type Admin } from '#libs/kafka';
import {
  deadLetterTopicNames,
  listDeadLetterTopics,
  readDeadLetters,
  redriveDeadLetters,
  UnknownSourceTopic,
  type DeadLetterMessage,
} from '#libs/messaging';
import { readOutboxStatus } from '#libs/outbox';
import { CONFIG, EVENT_CODEC, LOGGER, PG_POOL, ProblemError } from '#libs/platform';
import { storeFailure } from '../store-failure.js';
import { groupLagView } from './consumer-lag-view.js';
import { OperatorKafka } from './operator-kafka.js';

/** Every workspace's plumbing, for operators (the routes' access is `operator`): lag, the outbox, dead letters. */
@Controller()
export class OperatorController {
  private readonly logger: Logger;
  /** Redrives under way in this process, by topic: a second one at once would only fight the first for partitions. */
  private readonly redriving = new Set<string>();

  constructor(
    private readonly kafka: OperatorKafka,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ component: 'operator' });
  }

  @ServesRoute(getConsumerLag)
  async consumerLag(
    @Input(getConsumerLag) { query: { group } }: RouteInput<typeof getConsumerLag>,
  ): Promise<RouteOutput<typeof getConsumerLag>> {
    const groups = await this.kafka.use((admin) =>
      readConsumerLag(admin, { prefix: this.config.KAFKA_TOPIC_PREFIX, ...(group ? { groups: [group] } : {}) }),
    );
    return { at: new Date().toISOString(), groups: groups.map(groupLagView) };
  }

  @ServesRoute(getOutboxStatus)
  async outbox(): Promise<RouteOutput<typeof getOutboxStatus>> {
    return readOutboxStatus(this.pool).catch((error: unknown) => {
      throw storeFailure('outbox status')(error);
    });
  }

  @ServesRoute(listDeadLetterTopicsRoute)
  async deadLetterTopics(): Promise<RouteOutput<typeof listDeadLetterTopicsRoute>> {
    return { topics: await this.kafka.use((admin) => listDeadLetterTopics(admin, this.config.KAFKA_TOPIC_PREFIX)) };
  }

  @ServesRoute(listDeadLetters)
  async deadLetters(
    @Input(listDeadLetters) { params, query: { max } }: RouteInput<typeof listDeadLetters>,
  ): Promise<RouteOutput<typeof listDeadLetters>> {
    return this.kafka.use(async (admin, kafka) => {
      const topic = await this.resolve(admin, params.topic);
      const messages: DeadLetterMessage[] = [];
      await readDeadLetters(kafka, admin, topic, {
        decode: (value) => this.codec.decode(value),
        max,
        signal: AbortSignal.timeout(30_000),
        onMessage: (message) => void messages.push(message),
      });
      return { topic, messages };
    });
  }

  @ServesRoute(redriveDeadLettersRoute)
  async redrive(
    @Input(redriveDeadLettersRoute) { params, body: { max, dryRun } }: RouteInput<typeof redriveDeadLettersRoute>,
  ): Promise<RouteOutput<typeof redriveDeadLettersRoute>> {
    return this.kafka.use(async (admin, kafka) => {
      const topic = await this.resolve(admin, params.topic);
      if (this.redriving.has(topic)) throw new ProblemError('conflict', `a redrive of ${topic} is under way`);
      this.redriving.add(topic);
      try {
        const redriven = await redriveDeadLetters(kafka, admin, topic, {
          prefix: this.config.KAFKA_TOPIC_PREFIX,
          max,
          dryRun,
        });
        if (!dryRun) this.logger.info({ topic, redriven: redriven.length }, 'dead letters redriven');
        return { topic, dryRun, redriven };
      } catch (error) {
        if (error instanceof UnknownSourceTopic) throw new ProblemError('conflict', error.message);
        throw error;
      } finally {
        this.redriving.delete(topic);
      }
    });
  }

  /** The dead-letter topic named by its full name or by its name without this deployment's prefix; else 404. */
  private async resolve(admin: Admin, name: string): Promise<string> {
    const prefix = this.config.KAFKA_TOPIC_PREFIX;
    const known = new Set(await deadLetterTopicNames(admin, prefix));
    const topic = [`${prefix}${name}`, name].find((candidate) => known.has(candidate));
    if (!topic) throw new ProblemError('not_found', `no dead-letter topic ${name}`);
    return topic;
  }
}
