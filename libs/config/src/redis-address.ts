/** Where a Redis is: one server (a `redis://` or `rediss://` URL, as ioredis reads it), or a Redis Cluster. */
export type RedisAddress =
  | { readonly kind: 'server'; readonly url: string }
  | {
      readonly kind: 'cluster';
      /** Seed nodes: any reachable one tells the client the rest (CLUSTER SLOTS). */
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      readonly username?: string;
      readonly password?: string;
      readonly tls: boolean;
    };

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#@]+)\/?$/;
const NODE = /^(\[[0-9a-fA-F:.]+\]|[^\s:,[\]]+):(\d{1,5})$/;

/**
 * Reads a Redis address: `redis://[user:password@]host:port[/db]` (one server), or
 * `redis+cluster://[user:password@]host:port[,host:port...]` (`rediss+cluster://` with TLS) for a Redis Cluster,
 * naming one or more of its nodes. A cluster has no databases, so no `/db`. Throws an Error saying what is wrong.
 */
export function parseRedisAddress(value: string): RedisAddress {
  const cluster = CLUSTER_URL.exec(value);
  if (!cluster && /^rediss?\+cluster:/.test(value)) {
    throw new Error('a Redis Cluster URL is redis+cluster://[user:password@]host:port[,host:port...] (no database)');
  }
  if (!cluster) {
    let protocol: string;
    try {
      protocol = new URL(value).protocol;
    } catch {
      throw new Error('must be a URL starting with redis://, rediss://, redis+cluster:// or rediss+cluster://');
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') {
      throw new Error('must be a URL starting with redis://, rediss://, redis+cluster:// or rediss+cluster://');
    }
    return { kind: 'server', url: value };
  }
  const [, scheme, credentials, hosts] = cluster as unknown as [string, string, string | undefined, string];
  const nodes = hosts.split(',').map((node) => {
    const match = NODE.exec(node.trim());
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new Error(`a Redis Cluster URL names its nodes as host:port[,host:port...] (not "${node}")`);
    }
    return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
  });
  const colon = credentials?.indexOf(':') ?? -1;
  const username =
    credentials === undefined ? '' : decodeURIComponent(colon < 0 ? credentials : credentials.slice(0, colon));
  const password = credentials === undefined || colon < 0 ? '' : decodeURIComponent(credentials.slice(colon + 1));
  return {
    kind: 'cluster',
    nodes,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    tls: scheme === 'rediss',
  };
}
