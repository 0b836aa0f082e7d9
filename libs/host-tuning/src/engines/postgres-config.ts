/**
 * postgresql.conf values scaled to a machine (memory, cores, connections), each with the reason for it. The seed's
 * list is reconstructed from the settings issue 6 names and the usual sizing guides (PGTune's OLTP profile, the
 * Postgres wiki's "Tuning Your PostgreSQL Server"); where we cap or deviate, the reason says why. Pure: the CLI
 * (`orchestrator host postgres-conf`) reads the machine and prints `renderPostgresConf`.
 */

export interface PostgresMachine {
  readonly memoryBytes: number;
  readonly cpus: number;
  /** Every pool of every role instance together (DATABASE_POOL_MAX per process), plus room for operators. */
  readonly maxConnections: number;
}

export interface PostgresSetting {
  readonly name: string;
  /** As postgresql.conf and SHOW write it: memory in the largest exact unit, booleans on/off. */
  readonly value: string;
  readonly why: string;
}

/** The machine infra/postgres/postgresql.orchestrator.conf is generated for: a typical dedicated database server. */
export const REFERENCE_MACHINE: PostgresMachine = { memoryBytes: 64 * 1024 ** 3, cpus: 16, maxConnections: 200 };

export const DEFAULT_MAX_CONNECTIONS = 200;

const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;

export class PostgresMachineError extends Error {
  override readonly name = 'PostgresMachineError';
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** Bytes as Postgres writes memory: whole MB (rounded down; 64kB granularity below 1 MB), in the largest exact unit. */
export function formatMemory(bytes: number): string {
  if (bytes < MB) return `${Math.max(64, Math.floor(bytes / KB / 64) * 64)}kB`;
  const mb = Math.floor(bytes / MB);
  if (mb % (1024 * 1024) === 0) return `${mb / (1024 * 1024)}TB`;
  if (mb % 1024 === 0) return `${mb / 1024}GB`;
  return `${mb}MB`;
}

function validate(machine: PostgresMachine): void {
  const { memoryBytes, cpus, maxConnections } = machine;
  if (!Number.isFinite(memoryBytes) || memoryBytes < GB)
    throw new PostgresMachineError(`${memoryBytes} bytes of memory: at least 1 GiB is needed`);
  if (!Number.isInteger(cpus) || cpus < 1) throw new PostgresMachineError(`${cpus} CPUs: at least 1 is needed`);
  if (!Number.isInteger(maxConnections) || maxConnections < 10 || maxConnections > 10_000)
    throw new PostgresMachineError(`max_connections ${maxConnections}: between 10 and 10000 (use a pooler above that)`);
}

export function postgresSettings(machine: PostgresMachine): PostgresSetting[] {
  validate(machine);
  const { memoryBytes: ram, cpus, maxConnections } = machine;
  // Past 32 GiB more shared buffers mostly double-cache what the OS page cache already holds and make checkpoints
  // heavier; effective_cache_size tells the planner about the rest.
  const sharedBuffers = Math.min(ram * 0.25, 32 * GB);
  // Each sort or hash of a query may take work_mem (hash nodes twice that); assume about three at once per
  // connection. Capped: our queries are OLTP (small sorts), and a high value multiplies across connections.
  const workMem = clamp((ram - sharedBuffers) / (maxConnections * 3), 4 * MB, 64 * MB);
  const maxWal = clamp(ram / 4, 2 * GB, 16 * GB);
  const perGather = clamp(Math.floor(cpus / 2), 1, 4);
  return [
    {
      name: 'max_connections',
      value: String(maxConnections),
      why: 'every role instance holds a pool (DATABASE_POOL_MAX, 10); above a few hundred put PgBouncer in front',
    },
    {
      name: 'shared_buffers',
      value: formatMemory(sharedBuffers),
      why: "25% of RAM (capped at 32GB) for Postgres' own cache; the OS page cache holds the rest",
    },
    {
      name: 'effective_cache_size',
      value: formatMemory(ram * 0.75),
      why: 'a planner hint, not an allocation: about what shared_buffers and the page cache hold together (75% of RAM)',
    },
    {
      name: 'work_mem',
      value: formatMemory(workMem),
      why: '(RAM - shared_buffers) / (3 x max_connections), 4MB-64MB: per sort/hash, so it multiplies with concurrency',
    },
    {
      name: 'maintenance_work_mem',
      value: formatMemory(clamp(ram / 16, 64 * MB, 2 * GB)),
      why: 'RAM/16, at most 2GB: faster VACUUM and CREATE INDEX; only a few run at once',
    },
    {
      name: 'wal_buffers',
      value: formatMemory(clamp(sharedBuffers / 32, 64 * KB, 16 * MB)),
      why: "shared_buffers/32, at most 16MB (what -1 picks): group commit's WAL fits before a write is forced",
    },
    {
      name: 'min_wal_size',
      value: formatMemory(maxWal / 4),
      why: 'WAL segments kept for reuse instead of created anew after a quiet period',
    },
    {
      name: 'max_wal_size',
      value: formatMemory(maxWal),
      why: 'RAM/4 within 2GB-16GB: checkpoints come from checkpoint_timeout, not from WAL volume; costs disk and recovery time',
    },
    {
      name: 'checkpoint_timeout',
      value: '15min',
      why: 'fewer checkpoints, so fewer full-page images in the WAL; crash recovery replays at most ~15 min of WAL',
    },
    {
      name: 'checkpoint_completion_target',
      value: '0.9',
      why: 'spread checkpoint writes over 90% of the interval instead of a burst (the default since 14, stated)',
    },
    {
      name: 'wal_compression',
      value: 'lz4',
      why: 'compress full-page images: less WAL to write and replicate; lz4 is the cheapest (use pglz on a build without it)',
    },
    {
      name: 'synchronous_commit',
      value: 'on',
      why: 'kept on: a 202 means the patch and its outbox row are durable (DESIGN invariant 1); off could lose them',
    },
    {
      name: 'fsync',
      value: 'on',
      why: 'kept on: without it a crash can corrupt the database, not just lose the last commits',
    },
    {
      name: 'full_page_writes',
      value: 'on',
      why: 'kept on: protects against torn pages after a crash, unless the filesystem guarantees atomic 8kB writes',
    },
    {
      name: 'random_page_cost',
      value: '1.1',
      why: 'SSD/NVMe: a random read costs about a sequential one, so the planner uses indexes (default 4 assumes disks)',
    },
    {
      name: 'effective_io_concurrency',
      value: '200',
      why: 'SSD/NVMe serve many reads in parallel; bitmap heap scans prefetch that many pages',
    },
    {
      name: 'huge_pages',
      value: 'try',
      why: 'huge pages for shared_buffers when the kernel has them reserved (vm.nr_hugepages); starts without them otherwise',
    },
    {
      name: 'max_worker_processes',
      value: String(Math.max(8, cpus)),
      why: 'one background worker per core, at least the default 8 (parallel query, logical replication, extensions)',
    },
    {
      name: 'max_parallel_workers',
      value: String(cpus),
      why: 'parallel query may use every core at once, no more',
    },
    {
      name: 'max_parallel_workers_per_gather',
      value: String(perGather),
      why: 'half the cores, at most 4: one big query must not starve the OLTP traffic',
    },
    {
      name: 'max_parallel_maintenance_workers',
      value: String(perGather),
      why: 'CREATE INDEX and VACUUM in parallel, same bound as queries',
    },
    {
      name: 'autovacuum_vacuum_cost_limit',
      value: '2000',
      why: 'the outbox inserts and deletes a row per event: vacuum must keep up with that churn (default 200 throttles it)',
    },
    {
      name: 'jit',
      value: 'off',
      why: 'our queries are short; compiling them costs more than it saves',
    },
  ];
}

/** A postgresql.conf fragment: a header saying where it came from, then each setting under its reason. */
export function renderPostgresConf(machine: PostgresMachine): string {
  const settings = postgresSettings(machine);
  const header = [
    '# Generated by `orchestrator host postgres-conf' +
      ` --memory ${formatMemory(machine.memoryBytes)} --cpus ${machine.cpus}` +
      ` --max-connections ${machine.maxConnections}\`; regenerate instead of editing.`,
    '# Include it from postgresql.conf (infra/postgres/README.md); SSD/NVMe storage assumed.',
  ];
  return [...header, ...settings.flatMap((s) => ['', `# ${s.why}`, `${s.name} = ${quote(s.value)}`])].join('\n') + '\n';
}

/** Numbers and plain words go bare; anything with a unit is quoted, as postgresql.conf.sample does. */
const quote = (value: string) => (/^[0-9.]+$|^[a-z]+$/.test(value) ? value : `'${value}'`);
