import { Gauge, type Registry } from 'prom-client';

interface Queryable {
  query<R extends object>(text: string): Promise<{ rows: R[] }>;
}

/**
 * `runs_oldest_unfinished_age_seconds` (0 when every run has finished) and `run_timeout_seconds`: every run, waiting
 * ones included, is timed out by the coordinator's sweep once older than the run timeout, so a run older than that
 * (plus the sweep's slack) is stuck. One index lookup per scrape (`runs_unfinished`, partial on finished_at IS NULL).
 * A scrape does not fail because Postgres is away: the gauge keeps its last value.
 */
export function registerRunAgeMetrics(registry: Registry, pool: Queryable, runTimeoutMs: number): void {
  const oldest: Gauge = new Gauge({
    name: 'runs_oldest_unfinished_age_seconds',
    help: 'Age of the oldest run not yet finished (0 when none is)',
    registers: [registry],
    collect: async () => {
      try {
        const { rows } = await pool.query<{ age: number | null }>(
          `SELECT EXTRACT(EPOCH FROM clock_timestamp() - min(created_at))::float8 AS age FROM runs WHERE finished_at IS NULL`,
        );
        oldest.set(Math.max(0, rows[0]?.age ?? 0));
      } catch {
        // keep the last value; /health says why
      }
    },
  });
  const timeout = new Gauge({
    name: 'run_timeout_seconds',
    help: 'The run timeout (RUN_DEFAULT_TIMEOUT_MS) this coordinator applies',
    registers: [registry],
  });
  timeout.set(runTimeoutMs / 1000);
}
