import type { BlobBackend } from '#libs/cas';
import type { Pool } from '#libs/db';
import {
  CLAIM_DUE_JOB,
  DELETE_EXPIRED_IDEMPOTENCY_KEYS,
  DELETE_EXPIRED_LEGACY_BLOBS,
  DELETE_FINISHED_RUNS,
  DELETE_UNREFERENCED_BLOBS,
  RECORD_JOB_OUTCOME,
  REGISTER_JOB,
} from './retention.sql.js';

/** Rows per delete statement: small enough that one statement never holds its locks for long. */
export const RETENTION_BATCH = 1_000;

export interface RetentionSettings {
  /** How often each job runs across all processes; 0 turns retention off. */
  readonly intervalMs: number;
  /** 0 keeps idempotency keys forever. */
  readonly idempotencyKeyTtlMs: number;
  /** 0 keeps every content blob. */
  readonly casGraceMs: number;
  /** 0 keeps finished runs forever. */
  readonly finishedRunRetentionMs: number;
  /** Where blobs' bytes are: their orphans (bytes of collected or never committed rows) are deleted after the rows. */
  readonly blobs?: Pick<BlobBackend, 'collectOrphans'>;
}

export interface MaintenanceJob {
  readonly name: string;
  /** Deletes one batch of at most `limit` rows; returns how many it deleted. */
  readonly deleteBatch: (pool: Pool, limit: number) => Promise<number>;
}

const deleteOlderThan =
  (sql: string, ageMs: number) =>
  async (pool: Pool, limit: number): Promise<number> =>
    (await pool.query(sql, [ageMs, limit])).rowCount ?? 0;

/** The jobs the settings turn on. */
export function retentionJobs(settings: RetentionSettings): MaintenanceJob[] {
  if (settings.intervalMs === 0) return [];
  const jobs: MaintenanceJob[] = [];
  if (settings.idempotencyKeyTtlMs > 0) {
    jobs.push({
      name: 'expire-idempotency-keys',
      deleteBatch: deleteOlderThan(DELETE_EXPIRED_IDEMPOTENCY_KEYS, settings.idempotencyKeyTtlMs),
    });
  }
  if (settings.finishedRunRetentionMs > 0) {
    // Before the blob collector: the blobs of pruned runs become unreferenced in the same pass.
    jobs.push({
      name: 'prune-finished-runs',
      deleteBatch: deleteOlderThan(DELETE_FINISHED_RUNS, settings.finishedRunRetentionMs),
    });
  }
  if (settings.casGraceMs > 0) {
    jobs.push({
      name: 'collect-content-blobs',
      deleteBatch: deleteOlderThan(DELETE_UNREFERENCED_BLOBS, settings.casGraceMs),
    });
    const { blobs } = settings;
    if (blobs) {
      // After the rows: the bytes of the blobs just collected go in the same pass.
      jobs.push({
        name: 'collect-content-objects',
        deleteBatch: (pool, limit) => blobs.collectOrphans(pool, settings.casGraceMs, limit),
      });
    }
    jobs.push({
      name: 'collect-legacy-content-blobs',
      deleteBatch: deleteOlderThan(DELETE_EXPIRED_LEGACY_BLOBS, settings.casGraceMs),
    });
  }
  return jobs;
}

/** Deletes expired entries of the semantic cache, in the vector database (not the pool the job is claimed in). */
export function semanticCacheRetentionJob(store: { deleteExpired(limit: number): Promise<number> }): MaintenanceJob {
  return { name: 'expire-semantic-cache', deleteBatch: (_pool, limit) => store.deleteExpired(limit) };
}

export interface JobOutcome {
  readonly name: string;
  readonly deleted: number;
  readonly error?: string;
}

/**
 * Runs each job that is due, once across every process sharing the database: a process claims the job's row (moving
 * its next run `intervalMs` on) and only the claimant runs it. A job that fails is recorded and waits for its next
 * turn; deletes are idempotent, so a process that dies half-way leaves nothing to repair.
 */
export async function runDueJobs(
  pool: Pool,
  jobs: readonly MaintenanceJob[],
  intervalMs: number,
  keepGoing: () => boolean = () => true,
): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = [];
  for (const job of jobs) {
    await pool.query(REGISTER_JOB, [job.name]);
    const claimed = await pool.query(CLAIM_DUE_JOB, [job.name, intervalMs]);
    if (!claimed.rowCount) continue;
    let deleted = 0;
    let error: string | undefined;
    try {
      for (let batch = RETENTION_BATCH; batch === RETENTION_BATCH && keepGoing();) {
        batch = await job.deleteBatch(pool, RETENTION_BATCH);
        deleted += batch;
      }
    } catch (failure) {
      error = (failure as Error).message;
    }
    await pool.query(RECORD_JOB_OUTCOME, [job.name, deleted, error ?? null]);
    outcomes.push({ name: job.name, deleted, ...(error === undefined ? {} : { error }) });
  }
  return outcomes;
}
