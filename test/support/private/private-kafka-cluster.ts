import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REPO_ROOT } from '../processes.js';
import { exec } from './service.js';

export interface PrivateKafkaCluster {
  /** Bootstrap addresses, node 1 first. */
  readonly brokers: readonly string[];
  /** Node ids (1..n); node n listens on brokers[n - 1]. */
  readonly nodes: readonly number[];
  /** SIGKILL: nothing flushed, no controlled shutdown, leadership moves only once the controller notices. */
  kill(node: number): Promise<void>;
  /** Starts a killed node again and waits until it serves. */
  start(node: number): Promise<void>;
  /** The node leading the KRaft metadata quorum (the active controller). */
  activeController(): Promise<number>;
}

/**
 * A Kafka cluster of its own (infra/kafka/cluster.sh on free ports, in a temporary home): `count` KRaft nodes, each
 * broker and controller, internal topics replicated on all of them with min.insync.replicas 2.
 */
export async function startPrivateKafkaCluster(
  defer: (cleanup: () => unknown) => void,
  count = 3,
): Promise<PrivateKafkaCluster> {
  const home = await mkdtemp(join(tmpdir(), 'orch-kafka-cluster-'));
  const ports: number[] = [];
  const controllerPorts: number[] = [];
  for (let i = 0; i < count; i++) {
    ports.push(await freePort());
    controllerPorts.push(await freePort());
  }
  const env = {
    ...process.env,
    KAFKA_BROKER_COUNT: String(count),
    KAFKA_CLUSTER_HOME: home,
    KAFKA_CLUSTER_PORTS: ports.join(','),
    KAFKA_CLUSTER_CONTROLLER_PORTS: controllerPorts.join(','),
    KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m',
    // A killed node recovers every partition's log before it serves: slow on a busy machine (seen: over 90 s).
    KAFKA_START_TIMEOUT_S: '170',
  };
  const clusterSh = (...args: string[]) =>
    exec('bash', [join(REPO_ROOT, 'infra/kafka/cluster.sh'), ...args], { env, timeout: 180_000 });
  defer(async () => {
    // Killed, not stopped: the cluster and its data are thrown away, and a graceful stop of nodes that lose their
    // quorum one by one waits out kafka.sh's 30 s per node (a CI run's clean-up hit the harness's 30 s limit so).
    await Promise.all(ports.map((_, i) => clusterSh('kill', String(i + 1)).catch(() => undefined)));
    await rm(home, { recursive: true, force: true });
  });
  await clusterSh('start');
  const brokers = ports.map((port) => `127.0.0.1:${port}`);
  return {
    brokers,
    nodes: brokers.map((_, i) => i + 1),
    kill: async (node) => {
      await clusterSh('kill', String(node));
    },
    start: async (node) => {
      await clusterSh('start-node', String(node));
    },
    activeController: async () => {
      // kafkajs has no DescribeQuorum; Kafka's own tool has (a JVM start, a few seconds).
      const { stdout } = await exec(
        'bash',
        [
          join(REPO_ROOT, 'infra/kafka/bin/_run-tool'),
          'org.apache.kafka.tools.MetadataQuorumCommand',
          '--bootstrap-server',
          brokers.join(','),
          'describe',
          '--status',
        ],
        { env, timeout: 60_000 },
      );
      const leader = /LeaderId:\s*(\d+)/.exec(stdout)?.[1];
      if (!leader) throw new Error(`no LeaderId in the quorum's status:\n${stdout}`);
      return Number(leader);
    },
  };
}
