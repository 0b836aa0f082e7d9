import { Gauge, type Registry } from 'prom-client';

/** What a pg.Pool tells about itself (the counts pg keeps). */
export interface PoolStats {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly options: { readonly max?: number };
}

/**
 * `pg_pool_connections{state="in_use"|"idle"|"waiting"}` (waiting counts callers queued for a connection, not
 * connections) and `pg_pool_max`, read from the pool at scrape time. One pool per process, so no pool label.
 */
export function registerPoolMetrics(registry: Registry, pool: PoolStats): void {
  const connections: Gauge<'state'> = new Gauge({
    name: 'pg_pool_connections',
    help: 'Postgres pool: connections in use and idle, and callers waiting for one',
    labelNames: ['state'],
    registers: [registry],
    collect: () => {
      connections.set({ state: 'in_use' }, Math.max(0, pool.totalCount - pool.idleCount));
      connections.set({ state: 'idle' }, pool.idleCount);
      connections.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
  const max: Gauge = new Gauge({
    name: 'pg_pool_max',
    help: 'Postgres pool: most connections it may open',
    registers: [registry],
    collect: () => max.set(pool.options.max ?? 10),
  });
}
