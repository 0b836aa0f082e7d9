import { Gauge, type Registry } from 'prom-client';

interface ReplicaLagSource {
  lag(): Promise<{ seconds: number; bytes: number } | undefined>;
}

/**
 * `pg_replica_lag_seconds` (since the last commit the read replica replayed; 0 when it has replayed all it received)
 * and `pg_replica_lag_bytes` (the primary's WAL position minus the replica's replay position). One measurement per
 * scrape, shared by both. A scrape does not fail because a server is away: the gauges keep their last values.
 */
export function registerReplicaLagMetrics(registry: Registry, source: ReplicaLagSource): void {
  let measuring: ReturnType<ReplicaLagSource['lag']> | undefined;
  const measure = () => {
    measuring ??= source.lag().finally(() => {
      measuring = undefined;
    });
    return measuring;
  };
  const seconds: Gauge = new Gauge({
    name: 'pg_replica_lag_seconds',
    help: 'Read replica: seconds since the last commit it replayed (0 when it has replayed everything it received)',
    registers: [registry],
    collect: async () => {
      const lag = await measure();
      if (lag) seconds.set(lag.seconds);
    },
  });
  const bytes: Gauge = new Gauge({
    name: 'pg_replica_lag_bytes',
    help: "Read replica: bytes of WAL between the primary's position and the replica's replay position",
    registers: [registry],
    collect: async () => {
      const lag = await measure();
      if (lag) bytes.set(lag.bytes);
    },
  });
}
