import type { StartedTestContainer } from 'testcontainers';
import type { StackAddresses } from './stack-addresses.js';

/**
 * The same services as the local stack, in containers, for machines with a container runtime. Versions match the
 * local ones: Postgres 15 (with pgvector, whose second database holds the semantic cache), Redis 7, Kafka 3.9 (KRaft),
 * Apicurio Registry 3.3.
 */
export async function startContainers(): Promise<{
  addresses: Omit<StackAddresses, 'mode'>;
  stop: () => Promise<void>;
}> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const started: StartedTestContainer[] = [];
  try {
    const postgres = await new GenericContainer('pgvector/pgvector:0.8.1-pg15')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    started.push(postgres);
    const redis = await new GenericContainer('redis:7').withExposedPorts(6379).start();
    started.push(redis);
    // Kafka advertises the port the host sees, which is known only once the container is mapped: a fixed host port
    // keeps the advertised listener right without a second start.
    const kafkaPort = 19092;
    const kafka = await new GenericContainer('apache/kafka:3.9.1')
      .withExposedPorts({ container: 9092, host: kafkaPort })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start();
    started.push(kafka);
    const registry = await new GenericContainer('apicurio/apicurio-registry:3.3.3')
      .withEnvironment({
        APICURIO_CCOMPAT_LEGACY_ID_MODE_ENABLED: 'false',
        APICURIO_RULES_GLOBAL_COMPATIBILITY: 'BACKWARD',
      })
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
      .start();
    started.push(registry);
    return {
      addresses: {
        databaseUrl: `postgres://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/orchestrator`,
        vectorDatabaseUrl: `postgres://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/semantic_cache`,
        redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
        kafkaBrokers: `127.0.0.1:${kafkaPort}`,
        schemaRegistryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
      },
      stop: async () => {
        await Promise.allSettled(started.map((c) => c.stop()));
      },
    };
  } catch (error) {
    await Promise.allSettled(started.map((c) => c.stop()));
    throw error;
  }
}
