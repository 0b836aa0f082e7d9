import { Gauge, type Registry } from 'prom-client';
import { readConsumerLag, type GroupLag } from './consumer-lag.js';
import { openAdmin } from './kafka-client.js';
import type { Admin, Kafka } from './kafkajs.js';

export interface LagExporterOptions {
  kafka: Kafka;
  registry: Registry;
  /** This deployment's KAFKA_TOPIC_PREFIX: only its groups and topics are exported. */
  prefix: string;
  /** How long one read of the broker serves scrapes (several gauges, several scrapers). */
  cacheMs?: number;
  /** Time limit for reading the oldest unconsumed messages' timestamps. */
  ageTimeoutMs?: number;
  onError?: (error: unknown) => void;
  /**
   * Several API processes of one deployment would each export the same series, and a dashboard summing them would
   * count every lag N times: with a leader, only the process that leads exports (the others export no series).
   */
  leader?: ExporterLeader;
}

/** Elects one exporter among processes (AdvisoryLeader in libs/db is one). */
export interface ExporterLeader {
  isLeader(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Consumer lag as Prometheus gauges, read from the broker at scrape time (cached for `cacheMs`): committed offsets,
 * end offsets, lag and the age of the oldest unconsumed message per group/topic/partition. Labels are group, topic and
 * partition only, all bounded by the deployment's catalog and partition count.
 */
export class LagExporter {
  private readonly admin: Admin;
  private connected: Promise<void> | undefined;
  private cached: { at: number; value: Promise<GroupLag[]> } | undefined;

  constructor(private readonly options: LagExporterOptions) {
    this.admin = openAdmin(options.kafka, 'lag-exporter');
    const { registry } = options;
    const labelNames = ['group', 'topic', 'partition'] as const;
    const read = () => this.read();
    const each = (set: (groups: GroupLag[]) => void) =>
      async function collect(): Promise<void> {
        set(await read());
      };
    const lag: Gauge<(typeof labelNames)[number]> = new Gauge({
      name: 'kafka_consumergroup_lag',
      help: 'Messages a consumer group has not consumed yet (end offset minus committed offset)',
      labelNames,
      registers: [registry],
      collect: each((groups) => {
        lag.reset();
        for (const p of groups.flatMap((g) => g.partitions)) lag.set(labels(p), p.lag);
      }),
    });
    const lagSeconds: Gauge<(typeof labelNames)[number]> = new Gauge({
      name: 'kafka_consumergroup_lag_seconds',
      help: 'Age of the oldest message a consumer group has not consumed yet (0 when it is caught up)',
      labelNames,
      registers: [registry],
      collect: each((groups) => {
        lagSeconds.reset();
        for (const p of groups.flatMap((g) => g.partitions)) {
          if (p.lag === 0) lagSeconds.set(labels(p), 0);
          else if (p.oldestUnconsumedAgeMs !== null) lagSeconds.set(labels(p), p.oldestUnconsumedAgeMs / 1000);
        }
      }),
    });
    const committed: Gauge<(typeof labelNames)[number]> = new Gauge({
      name: 'kafka_consumergroup_committed_offset',
      help: "A consumer group's committed offset (partitions it never committed on are left out)",
      labelNames,
      registers: [registry],
      collect: each((groups) => {
        committed.reset();
        for (const p of groups.flatMap((g) => g.partitions)) {
          if (p.committedOffset !== null) committed.set(labels(p), p.committedOffset);
        }
      }),
    });
    const leading = new Gauge({
      name: 'kafka_lag_exporter_leader',
      help: '1 on the one process that exports consumer lag for the deployment, 0 on the others',
      registers: [registry],
      collect: async () => {
        leading.set(options.leader ? Number(await options.leader.isLeader()) : 1);
      },
    });
    const end: Gauge<'topic' | 'partition'> = new Gauge({
      name: 'kafka_topic_partition_end_offset',
      help: 'End offset (high watermark) of a topic partition consumed by one of the groups',
      labelNames: ['topic', 'partition'],
      registers: [registry],
      collect: each((groups) => {
        end.reset();
        for (const p of groups.flatMap((g) => g.partitions)) {
          end.set({ topic: p.topic, partition: String(p.partition) }, p.endOffset);
        }
      }),
    });
  }

  /** One broker read per `cacheMs`, shared by every gauge and concurrent scrape; a failed read is not cached. */
  read(): Promise<GroupLag[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < (this.options.cacheMs ?? 5000)) return this.cached.value;
    const value = this.readNow().catch((error: unknown) => {
      this.cached = undefined;
      this.options.onError?.(error);
      return [];
    });
    this.cached = { at: now, value };
    return value;
  }

  private async readNow(): Promise<GroupLag[]> {
    if (this.options.leader && !(await this.options.leader.isLeader())) return [];
    this.connected ??= this.admin.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    await this.connected;
    return readConsumerLag(this.admin, {
      prefix: this.options.prefix,
      withAge: { kafka: this.options.kafka, timeoutMs: this.options.ageTimeoutMs ?? 2000 },
    });
  }

  /**
   * The lead gives its pooled connection back before any shutdown hook ends the pool (pg's end() waits for every
   * checked-out connection): module-destroy hooks all run before application-shutdown ones.
   */
  async onModuleDestroy(): Promise<void> {
    await this.options.leader?.close();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    await this.cached?.value;
    if (this.connected) await this.admin.disconnect();
    this.connected = undefined;
    await this.options.leader?.close();
  }
}

const labels = (p: { group: string; topic: string; partition: number }) => ({
  group: p.group,
  topic: p.topic,
  partition: String(p.partition),
});

/**
 * The exporter as a NestJS provider (structurally typed, so libs/kafka needs no Nest import): pass the role's
 * injection tokens. It resolves to null when `enabled` says no; the exporter's own admin closes on shutdown.
 */
export function lagExporterProvider(tokens: { config: symbol; kafka: symbol; registry: symbol; leader: symbol }) {
  return {
    provide: LagExporter,
    inject: [tokens.config, tokens.kafka, tokens.registry, tokens.leader],
    useFactory: (
      config: { LAG_EXPORTER_ENABLED: boolean; KAFKA_TOPIC_PREFIX: string },
      kafka: Kafka,
      registry: Registry,
      leader: ExporterLeader,
    ): LagExporter | null =>
      config.LAG_EXPORTER_ENABLED
        ? new LagExporter({ kafka, registry, prefix: config.KAFKA_TOPIC_PREFIX, leader })
        : null,
  };
}
