import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REPO_ROOT } from '../processes.js';
import { exec } from './service.js';

/** One node as `CLUSTER NODES` describes it. */
export interface ClusterNodeView {
  /** 1-based, as infra/redis/cluster.sh numbers it */
  readonly node: number;
  readonly role: 'master' | 'replica';
  /** Marked failed (`fail`) or suspected (`fail?`) by the node asked. */
  readonly failing: boolean;
  /** Slot ranges it serves (masters), e.g. [[0, 5460]]. */
  readonly slots: readonly (readonly [number, number])[];
}

export interface PrivateRedisCluster {
  /** REDIS_URL for it: `redis+cluster://` and every node. */
  readonly url: string;
  /** Node n listens on ports[n - 1]. */
  readonly ports: readonly number[];
  /** SIGKILL node n: nothing flushed, its replica takes over once the others marked it failed. */
  kill(node: number): Promise<void>;
  /** Starts node n again with its nodes.conf (it rejoins) and waits until it answers PING. */
  start(node: number): Promise<void>;
  /** The cluster as node `askNode` sees it (one that is up). */
  view(askNode: number): Promise<ClusterNodeView[]>;
  /** The node serving `slot` as master, as `askNode` sees it. */
  masterOf(slot: number, askNode: number): Promise<ClusterNodeView>;
}

/**
 * A Redis Cluster of its own (infra/redis/cluster.sh: 3 masters, 3 replicas) on free ports, its bus ports free too,
 * state and logs in a temporary directory removed afterwards.
 */
export async function startPrivateRedisCluster(
  defer: (cleanup: () => unknown) => void,
  options: { nodeTimeoutMs?: number } = {},
): Promise<PrivateRedisCluster> {
  const home = await mkdtemp(join(tmpdir(), 'orch-redis-cluster-'));
  const ports: number[] = [];
  const busPorts: number[] = [];
  for (let i = 0; i < 6; i++) {
    ports.push(await freePort());
    busPorts.push(await freePort());
  }
  const env = {
    ...process.env,
    REDIS_CLUSTER_HOME: home,
    REDIS_CLUSTER_PORTS: ports.join(','),
    REDIS_CLUSTER_BUS_PORTS: busPorts.join(','),
    REDIS_CLUSTER_NODE_TIMEOUT_MS: String(options.nodeTimeoutMs ?? 1_000),
  };
  const clusterSh = (...args: string[]) =>
    exec('bash', [join(REPO_ROOT, 'infra/redis/cluster.sh'), ...args], { env, timeout: 150_000 });
  defer(async () => {
    await clusterSh('stop').catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });
  await clusterSh('start');
  const view = async (askNode: number): Promise<ClusterNodeView[]> => {
    const { stdout } = await exec('redis-cli', ['-p', String(ports[askNode - 1]), 'cluster', 'nodes']);
    return stdout
      .trim()
      .split('\n')
      .map((line) => {
        // <id> <ip:port@bus> <flags> <master id|-> <ping> <pong> <epoch> <link> <slot ranges...>
        const [, address = '', flags = '', , , , , , ...ranges] = line.split(' ');
        const port = Number(/:(\d+)@/.exec(address)?.[1]);
        const flagList = flags.split(',');
        return {
          node: ports.indexOf(port) + 1,
          role: flagList.includes('master') ? ('master' as const) : ('replica' as const),
          failing: flagList.includes('fail') || flagList.includes('fail?'),
          slots: ranges
            .filter((r) => !r.startsWith('['))
            .map((r) => {
              const [from, to = from] = r.split('-').map(Number) as [number, number?];
              return [from, to] as const;
            }),
        };
      });
  };
  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    kill: async (node) => {
      await clusterSh('kill', String(node));
    },
    start: async (node) => {
      await clusterSh('start-node', String(node));
    },
    view,
    masterOf: async (slot, askNode) => {
      const owner = (await view(askNode)).find(
        (n) => n.role === 'master' && n.slots.some(([from, to]) => slot >= from && slot <= to),
      );
      if (!owner) throw new Error(`no master serves slot ${slot}`);
      return owner;
    },
  };
}
