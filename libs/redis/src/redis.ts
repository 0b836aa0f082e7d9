import { once } from 'node:events';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { parseRedisAddress } from '#libs/config';
import { trackResource } from '#libs/resources';

/**
 * A client of one Redis server or of a Redis Cluster: both take the same commands. What differs is up to the caller:
 * in a cluster every key of one command, script or pipeline must be in one slot (hash tags, `{...}`), and a SCAN
 * walks one node (`masters`).
 */
export type RedisClient = Redis | Cluster;

export type RedisClientOptions = Pick<RedisOptions, 'commandTimeout' | 'connectTimeout' | 'enableAutoPipelining'>;

/**
 * An ioredis client of `address` (REDIS_URL's forms: `redis://…` one server, `redis+cluster://host:port,…` a Redis
 * Cluster) that shows up in the open-resources ledger until `quit()`/`disconnect()` has closed it. Commands sent while
 * it is not connected fail at once (no offline queue); `options` may add e.g. a `commandTimeout` (per node in a
 * cluster).
 */
export function createRedis(address: string, name: string, options: RedisClientOptions = {}): RedisClient {
  const parsed = parseRedisAddress(address);
  const client: RedisClient =
    parsed.kind === 'server'
      ? new Redis(parsed.url, {
          connectionName: name,
          lazyConnect: true,
          maxRetriesPerRequest: 2,
          enableOfflineQueue: false,
          ...options,
        })
      : new Cluster(
          parsed.nodes.map(({ host, port }) => ({ host, port })),
          {
            lazyConnect: true,
            enableOfflineQueue: false,
            enableAutoPipelining: options.enableAutoPipelining ?? false,
            // A master lost: commands for its slots are retried every 100 ms, each time after asking the cluster
            // for its slots again, so they reach the replica once it took over. They fail after about a second, or
            // about the commandTimeout when one is given (the node cache's 250 ms: a lookup that long is a miss),
            // and callers treat that as an outage (a cache miss, an unchecked rate limit).
            retryDelayOnFailover: 100,
            retryDelayOnClusterDown: 100,
            retryDelayOnTryAgain: 100,
            maxRedirections:
              options.commandTimeout === undefined ? 10 : Math.max(3, Math.ceil(options.commandTimeout / 100)),
            // Also a periodic look, so a failover nobody's command ran into is seen too.
            slotsRefreshInterval: 2_000,
            slotsRefreshTimeout: 1_000,
            // Every seed node unreachable: try again, soon at first, then every 2 s, without end.
            clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
            redisOptions: {
              connectionName: name,
              maxRetriesPerRequest: 2,
              ...(options.commandTimeout === undefined ? {} : { commandTimeout: options.commandTimeout }),
              ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout }),
              ...(parsed.username === undefined ? {} : { username: parsed.username }),
              ...(parsed.password === undefined ? {} : { password: parsed.password }),
              ...(parsed.tls ? { tls: {} } : {}),
            },
          },
        );
  const release = trackResource('redis', name);
  client.once('end', release);
  // ioredis resolves quit() on the server's OK, before the socket is closed; callers mean "closed" when they await it.
  const quit = client.quit.bind(client);
  const disconnect = client.disconnect.bind(client);
  client.disconnect = (reconnect = false) => {
    disconnect(reconnect);
    // A client that never connected ends without an 'end' event.
    if (!reconnect) release();
  };
  client.quit = async () => {
    if (client.status !== 'ready') {
      client.disconnect();
      return 'OK';
    }
    const ended = once(client, 'end');
    const reply = await quit();
    await ended;
    return reply;
  };
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  client.on('error', () => undefined);
  // A cluster reports each node's connection errors apart; they are the same outage as the commands' errors.
  client.on('node error', () => undefined);
  return client;
}

/**
 * PINGs the cluster node at `address` ("host:port"). Through the client's own connection where its pool has one; right
 * after a failover, or a lost master's return as a replica, its slot map can name a node its pool has not (re)opened
 * yet, and then a short-lived connection with the cluster's settings asks the node itself.
 */
export async function pingClusterNode(cluster: Cluster, address: string, timeoutMs: number): Promise<void> {
  const pooled = cluster.nodes('all').find((n) => `${n.options.host}:${n.options.port}` === address);
  if (pooled) {
    await pooled.ping();
    return;
  }
  const separator = address.lastIndexOf(':');
  const probe = new Redis({
    ...cluster.options.redisOptions,
    host: address.slice(0, separator),
    port: Number(address.slice(separator + 1)),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } finally {
    probe.disconnect();
  }
}

/** The servers holding data: every master of a cluster, or the one server. */
export function masters(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

export { Cluster };
