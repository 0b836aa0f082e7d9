import pTimeout from 'p-timeout';
import type { Admin } from 'kafkajs';
import { Cluster, pingClusterNode, type RedisClient } from '#libs/redis';
import type { Pool } from '#libs/db';
import type { Logger } from 'pino';

export interface CheckResult {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly error?: string;
}

class ProbeTimeout extends Error {}

/** Every Redis Cluster has 16384 hash slots. */
const CLUSTER_SLOTS = 16_384;

/** A probe's result; a failure also carries the dependency's own error, for the log only. */
async function timed(timeoutMs: number, probe: () => Promise<unknown>): Promise<CheckResult & { cause?: unknown }> {
  const started = performance.now();
  try {
    await pTimeout(probe(), {
      milliseconds: timeoutMs,
      message: new ProbeTimeout(`no answer within ${timeoutMs} ms`),
    });
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    // /health is public: a dependency's own words (addresses, database and user names) are not for it.
    const summary = error instanceof ProbeTimeout ? 'timed out' : 'unavailable';
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: summary, cause: error };
  }
}

export type DependencyReport = Record<'postgres' | 'redis' | 'kafka' | 'schemaRegistry', CheckResult>;

/** Readiness of the services every role needs (API.md: /health is 200 when all are reachable). */
export class DependencyChecks {
  private adminConnected: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly redis: RedisClient,
    private readonly admin: Admin,
    private readonly schemaRegistryUrl: string,
    private readonly timeoutMs: number,
    private readonly logger?: Logger,
  ) {}

  /** The last error logged per dependency: a failure is logged when it starts or changes, not on every probe. */
  private readonly lastLogged = new Map<string, string>();

  private inFlight: Promise<DependencyReport> | undefined;

  /**
   * Requests arriving while a probe is under way share it: the answer is no older than that probe, and a burst of
   * health checks (a load balancer per instance, several probes) costs the dependencies one round of queries.
   */
  run(): Promise<DependencyReport> {
    this.inFlight ??= this.probe().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async probe(): Promise<DependencyReport> {
    const [postgres, redis, kafka, schemaRegistry] = await Promise.all([
      timed(this.timeoutMs, () => this.pool.query('SELECT 1')),
      timed(this.timeoutMs, () => this.pingRedis()),
      timed(this.timeoutMs, () => this.describeKafka()),
      timed(this.timeoutMs, () => this.pingRegistry()),
    ]);
    const report = { postgres, redis, kafka, schemaRegistry };
    for (const [name, { cause, ...result }] of Object.entries(report)) {
      this.log(name, result, cause);
      report[name as keyof DependencyReport] = result;
    }
    return report;
  }

  private log(name: string, result: CheckResult, cause: unknown): void {
    const message = result.ok ? undefined : String((cause as Error | undefined)?.message ?? cause);
    if (message === this.lastLogged.get(name)) return;
    if (message === undefined) {
      this.lastLogged.delete(name);
      this.logger?.info({ dependency: name }, 'dependency reachable again');
    } else {
      this.lastLogged.set(name, message);
      this.logger?.warn({ dependency: name, err: cause }, `dependency check failed: ${name}`);
    }
  }

  private async pingRegistry(): Promise<void> {
    const response = await fetch(`${this.schemaRegistryUrl}/config`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  }

  /**
   * One server answers PING. A Redis Cluster must say `cluster_state:ok`, and the master of every slot (as the client
   * last heard it from the cluster) must answer PING: a master lost is a third of the cache gone until its replica took
   * over and the client learnt so.
   */
  private async pingRedis(): Promise<void> {
    if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
    if (!(this.redis instanceof Cluster)) {
      await this.redis.ping();
      return;
    }
    const info = String(await this.redis.cluster('INFO'));
    const state = /^cluster_state:(\w+)/m.exec(info)?.[1];
    if (state !== 'ok') throw new Error(`Redis Cluster state is ${state ?? 'unknown'}`);
    const owners = new Set<string>();
    for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
      const owner = this.redis.slots[slot]?.[0];
      if (owner === undefined) throw new Error(`Redis Cluster slot ${slot} has no master`);
      owners.add(owner);
    }
    const cluster = this.redis;
    await Promise.all([...owners].map((owner) => pingClusterNode(cluster, owner, this.timeoutMs)));
  }

  /**
   * Disconnects the admin client the Kafka probe connects lazily: after a connect still under way (a probe at
   * shutdown), which would otherwise leave it connected, and no probe connects it again.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.adminConnected?.catch(() => undefined);
    await this.admin.disconnect();
  }

  private async describeKafka(): Promise<void> {
    if (this.closed) throw new Error('shutting down');
    // A failed connect is forgotten so the next probe tries again instead of reporting a stale failure forever.
    this.adminConnected ??= this.admin.connect().catch((error: unknown) => {
      this.adminConnected = undefined;
      throw error;
    });
    await this.adminConnected;
    const cluster = await this.admin.describeCluster();
    if (!cluster.brokers.length) throw new Error('no brokers in cluster metadata');
  }
}
