import { masters, type RedisClient } from '#libs/redis';
import { Counter, Gauge, type Registry } from 'prom-client';

interface SentCommand {
  readonly name: string;
  readonly promise: Promise<unknown>;
}

const opsCounters = new WeakMap<Registry, Counter<'operation' | 'status'>>();

/**
 * Counts every command the client sends, `redis_ops_total{operation,status}` (operation is the command name, a
 * bounded set; status ok or error), by wrapping `sendCommand`, which every ioredis call goes through. Every client
 * instrumented on one registry (the platform's, the node result cache's) adds to the same series.
 */
export function instrumentRedis(client: RedisClient, registry: Registry): void {
  let ops = opsCounters.get(registry);
  if (!ops) {
    ops = new Counter({
      name: 'redis_ops_total',
      help: 'Redis commands sent by this process, by command and outcome',
      labelNames: ['operation', 'status'],
      registers: [registry],
    });
    opsCounters.set(registry, ops);
    // Zeroes for the health ping, so the series exist before the first failure.
    for (const status of ['ok', 'error']) ops.inc({ operation: 'ping', status }, 0);
  }
  const counter = ops;
  const send = client.sendCommand.bind(client) as (command: SentCommand, ...rest: unknown[]) => unknown;
  (client as unknown as { sendCommand: typeof send }).sendCommand = (command, ...rest) => {
    const result = send(command, ...rest);
    const operation = command.name.toLowerCase();
    command.promise.then(
      () => counter.inc({ operation, status: 'ok' }),
      () => counter.inc({ operation, status: 'error' }),
    );
    return result;
  };
}

export interface RedisMemory {
  readonly used: number;
  readonly max: number;
}

export function parseRedisMemoryInfo(info: string): RedisMemory | undefined {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:(\\d+)\\s*$`, 'm').exec(info);
    return match ? Number(match[1]) : undefined;
  };
  const used = field('used_memory');
  if (used === undefined) return undefined;
  return { used, max: field('maxmemory') ?? 0 };
}

/** Of several servers' memory, the one nearest its limit (with no limit set: the one using most). */
export function fullest(memories: readonly (RedisMemory | undefined)[]): RedisMemory | undefined {
  const fill = (m: RedisMemory) => (m.max > 0 ? m.used / m.max : 0);
  let chosen: RedisMemory | undefined;
  for (const memory of memories) {
    if (!memory) continue;
    if (!chosen || fill(memory) > fill(chosen) || (fill(memory) === fill(chosen) && memory.used > chosen.used)) {
      chosen = memory;
    }
  }
  return chosen;
}

/**
 * `redis_memory_used_bytes` and `redis_memory_max_bytes` (0: no maxmemory set), from one `INFO memory` per scrape
 * (shared by both gauges for `cacheMs`). In a Redis Cluster every master is asked and the one nearest its maxmemory is
 * reported: a shard evicts by its own limit, however empty the others are (RedisMemoryHigh). A scrape never fails
 * because Redis is away: the gauges keep their last value.
 */
export function registerRedisMemoryMetrics(
  client: RedisClient,
  registry: Registry,
  options: { cacheMs?: number; timeoutMs?: number } = {},
): void {
  const cacheMs = options.cacheMs ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 1_000;
  let cached: { at: number; memory: Promise<RedisMemory | undefined> } | undefined;
  const read = (): Promise<RedisMemory | undefined> => {
    const now = Date.now();
    if (cached && now - cached.at < cacheMs) return cached.memory;
    const memory = (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        if (client.status === 'wait') await client.connect();
        const infos = await Promise.race([
          // A master that does not answer is left out; the others still say how full they are.
          Promise.all(masters(client).map((server) => server.info('memory').catch(() => undefined))),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('redis INFO timed out')), timeoutMs);
          }),
        ]);
        return fullest(infos.map((info) => (info === undefined ? undefined : parseRedisMemoryInfo(info))));
      } catch {
        return undefined;
      } finally {
        clearTimeout(timer);
      }
    })();
    cached = { at: now, memory };
    return memory;
  };
  const used: Gauge = new Gauge({
    name: 'redis_memory_used_bytes',
    help: 'Memory Redis has allocated (INFO memory used_memory; in a cluster, of the master nearest its maxmemory)',
    registers: [registry],
    collect: async () => {
      const memory = await read();
      if (memory) used.set(memory.used);
    },
  });
  const max: Gauge = new Gauge({
    name: 'redis_memory_max_bytes',
    help: 'Redis maxmemory (0 when unlimited; in a cluster, of the master nearest its maxmemory)',
    registers: [registry],
    collect: async () => {
      const memory = await read();
      if (memory) max.set(memory.max);
    },
  });
}
