import { z } from 'zod';
import {
  SENSITIVE_DETECTORS,
  sensitiveDetectorList,
  sensitivePatternList,
  tokenPrices,
  workspaceCachePolicies,
} from './cache-settings.js';
// The module itself, not the library's index (see cache-settings.ts).
import { parseRedisAddress } from './redis-address.js';
import { MAX_CACHE_TTL_MS, MIN_SEMANTIC_SIMILARITY } from '../../workflows/src/definition-schema.js';

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  );

/** One Redis server or a Redis Cluster (redis-address.ts); kept as the text, which `createRedis` reads. */
const redisAddress = z.string().superRefine((value, ctx) => {
  try {
    parseRedisAddress(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

const brokerList = z
  .string()
  .transform((value) => value.split(',').map((b) => b.trim()))
  .refine((brokers) => brokers.length > 0 && brokers.every((b) => /^[^\s:/]+:\d{1,5}$/.test(b)), {
    message: 'must be a comma-separated list of host:port',
  });

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = (fallback: 'true' | 'false') =>
  z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default(fallback)
    .transform((v) => v === 'true');

/**
 * Every setting the platform reads from its environment, with the local defaults of ../shared/API.md.
 * The variable names are the public contract; the keys are what code reads.
 */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.optional(),
  KAFKA_BROKERS: brokerList.default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().min(1).default('orchestrator'),
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]*$/, 'may hold only letters, digits, ".", "_" and "-"')
    .default(''),
  KAFKA_PARTITIONS: positiveInt.max(1024).default(12),
  KAFKA_REPLICATION_FACTOR: positiveInt.max(7).default(1),
  SCHEMA_REGISTRY_URL: url(['http:', 'https:']).default('http://127.0.0.1:8081/apis/ccompat/v7'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/orchestrator'),
  DATABASE_POOL_MAX: positiveInt.max(1000).default(10),
  /**
   * A streaming replica of DATABASE_URL the API's read endpoints use (runs, run timelines, workflows, versions,
   * patches); a read that brings a write's consistency token goes to the replica only once it has replayed that
   * write. Unset: every read goes to DATABASE_URL.
   */
  DATABASE_READ_URL: url(['postgres:', 'postgresql:']).optional(),
  /** Postgres cancels any statement of the platform's pools that runs longer (0: no limit). */
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  /** `redis://host:port` (one server) or `redis+cluster://host:port,host:port` (a Redis Cluster, any of its nodes). */
  REDIS_URL: redisAddress.default('redis://127.0.0.1:6379'),
  HEALTH_TIMEOUT_MS: positiveInt.default(2000),
  /** Creates workspace `default` with this admin key when no workspace exists yet (empty: no bootstrap). */
  BOOTSTRAP_ADMIN_KEY: z
    .string()
    .refine((key) => key === '' || key.length >= 16, 'must be empty (no bootstrap) or at least 16 characters')
    .default(() => LOCAL_BOOTSTRAP_ADMIN_KEY),
  /**
   * Prepended to every Redis key this deployment writes (rate-limit counters, cached node results): several
   * deployments may share a Redis.
   */
  REDIS_KEY_PREFIX: z
    .string()
    .refine((prefix) => !/[{}]/.test(prefix), 'may not hold { or }: the keys after it carry Redis Cluster hash tags')
    .default('orchestrator:'),
  /**
   * Bearer token a scrape of /metrics must send. Unset: /metrics is open on a loopback HOST and closed (403) on any
   * other address, where series would show tenants' activity to anyone.
   */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * Run tags that get their own `tag` label on workflows_started_total (comma-separated). Unset: the first
   * METRICS_MAX_RUN_TAGS distinct tags a process sees get one; every other tag counts as "other".
   */
  METRICS_RUN_TAGS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .optional(),
  METRICS_MAX_RUN_TAGS: z.coerce.number().int().min(0).max(1_000).default(50),
  /** Length of a rate-limit window; the limits below count requests per window. */
  RATE_LIMIT_WINDOW_SECONDS: positiveInt.max(86_400).default(60),
  /** Requests one API key may make per window, over all API processes (counted in Redis); 0: no limit. */
  RATE_LIMIT_PER_KEY: z.coerce.number().int().min(0).default(6_000),
  /** Requests one source address may make per window, with or without a valid key; 0: no limit. */
  RATE_LIMIT_PER_ADDRESS: z.coerce.number().int().min(0).default(12_000),
  /** How long an unknown or revoked key is remembered as such, so repeating it does not reach Postgres each time. */
  API_KEY_NEGATIVE_CACHE_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  /** Event streams (SSE) one workspace may hold open at once on one fanout process; 0: no limit. */
  SSE_MAX_STREAMS_PER_WORKSPACE: z.coerce.number().int().min(0).default(100),
  HTTP_BODY_LIMIT_BYTES: positiveInt.max(64 * 1024 * 1024).default(256 * 1024),
  /** Hosts http_request nodes may target although they are loopback/private/link-local (the SSRF guard's allow-list). */
  SSRF_ALLOWED_HOSTS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean),
    )
    .default([]),
  /** Concurrent patch POSTs are written in one transaction of at most this many (group commit). */
  PATCH_WRITE_MAX_BATCH: positiveInt.max(10_000).default(500),
  /**
   * Requests waiting for a group commit (patches, run starts; each has its own queue). Past it, a request is answered
   * 503 with Retry-After at once instead of waiting behind a database that does not keep up.
   */
  GROUP_COMMIT_MAX_QUEUED: positiveInt.max(1_000_000).default(5_000),
  /** Nesting depth of JSON request bodies and of workflow definitions; deeper input is refused. */
  JSON_MAX_DEPTH: positiveInt.min(8).max(1_000).default(64),
  /** A workflow definition's size as JSON text (UTF-8 bytes), checked at creation and after every patch op. */
  DEFINITION_MAX_BYTES: positiveInt
    .min(1_024)
    .max(64 * 1_048_576)
    .default(1_048_576),
  /** How long the broker may wait to fill a materializer fetch: the batching window when traffic is light. */
  MATERIALIZER_MAX_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(20),
  MATERIALIZER_MIN_BYTES: positiveInt.default(1),
  /** At most this many patches are folded into one new version; a longer backlog yields several versions. */
  MATERIALIZER_MAX_PATCHES_PER_VERSION: positiveInt.max(100_000).default(100),
  /**
   * Pending patches (their operations' JSON text) read per materialization round; a larger backlog is folded in
   * several rounds, one transaction each, so a burst of big patches cannot take the materializer's memory.
   */
  MATERIALIZER_MAX_PENDING_BYTES: positiveInt.default(16 * 1024 * 1024),
  /** Tries of a failing event handler before its message goes to the topic's dead-letter topic. */
  CONSUMER_MAX_ATTEMPTS: positiveInt.max(100).default(3),
  OUTBOX_RELAY_BATCH_SIZE: positiveInt.max(10_000).default(500),
  /** Stays under Kafka's default 1 MB message batch limit, so no batch is refused for its size. */
  OUTBOX_RELAY_MAX_BATCH_BYTES: positiveInt.default(900_000),
  /**
   * The API publishes the outbox rows of its run starts and patches itself, right after their commit; the relays take
   * such a row only once it is this old (the writer died, or its publish failed). 0 turns eager publishing off.
   */
  OUTBOX_EAGER_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(3_000),
  /** Fallback when no NOTIFY arrives: relays claim at least this often. */
  OUTBOX_RELAY_POLL_INTERVAL_MS: positiveInt.default(1_000),
  /** How often a relay heartbeats and rebalances its lanes; one silent for OUTBOX_RELAY_TIMEOUT_MS stops counting. */
  OUTBOX_RELAY_HEARTBEAT_INTERVAL_MS: positiveInt.default(1_000),
  OUTBOX_RELAY_TIMEOUT_MS: positiveInt.default(5_000),
  OUTBOX_RELAY_RETRY_MAX_MS: positiveInt.default(5_000),
  /** Grace for the batch in flight at shutdown; keep it below SHUTDOWN_TIMEOUT_MS. */
  OUTBOX_RELAY_STOP_TIMEOUT_MS: positiveInt.default(5_000),
  /** How long the group waits for a silent member before giving its partitions away (a crashed one's, say). */
  CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(15_000),
  /**
   * How long a handled batch's offsets may wait to be committed with the next ones (0: after every batch). A crash or a
   * rebalance redelivers at most that much, to handlers that are idempotent; one commit per window instead of one per
   * batch is most of a quiet consumer's requests.
   */
  CONSUMER_COMMIT_INTERVAL_MS: z.coerce.number().int().min(0).max(5_000).default(100),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10000),
  /** A run not finished after this long is timed out (a definition's own limit is not in the format yet). */
  RUN_DEFAULT_TIMEOUT_MS: positiveInt.max(30 * 86_400_000).default(3_600_000),
  /**
   * Broker fetch wait for coordinator and workers. Fetches return as soon as a message arrives (min bytes 1), so this
   * bounds only idle polling; 5 ms burnt a quarter of a core per consumer group polling an idle broker.
   */
  COORDINATOR_MAX_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(100),
  /**
   * Partition batches a coordinator takes from a fetch at once; whatever arrives while one write runs is written in
   * the next, so this should cover every partition it may own (three topics × KAFKA_PARTITIONS).
   */
  COORDINATOR_CONCURRENCY: positiveInt.max(1_024).default(64),
  /**
   * The run projector is off the runs' path (its lag target is a second), so its fetches wait for a batch: the broker
   * answers once RUN_PROJECTOR_MIN_BYTES of changelog are there or RUN_PROJECTOR_MAX_WAIT_MS passed. One Postgres
   * transaction then projects every run transition of that window instead of one per record at light load.
   */
  RUN_PROJECTOR_MAX_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(100),
  RUN_PROJECTOR_MIN_BYTES: positiveInt.default(16_384),
  /**
   * Kafka transactions a coordinator runs at once (one per partition it owns at most). Each costs the same round trips
   * however many runs it carries, so bounding them makes the waiting partitions' next ones fuller.
   */
  COORDINATOR_MAX_TRANSACTIONS: positiveInt.max(1_024).default(4),
  /**
   * Transaction groups the coordinator's partitions are dealt into (partition p is in group p mod this; 0: one group
   * per partition). A group is owned by one coordinator whole and its batches are written in one Kafka transaction,
   * under the transactional id of its lowest partition: fewer groups, fewer transactions per run (they cost a third of
   * the broker's CPU under load, bench/README.md), but at most this many coordinators share the work (the others stand
   * by). Set it to the most coordinator instances the deployment runs; `npm start` (one process) uses 1. Every
   * coordinator of a deployment must use one value: the group's leader refuses to assign otherwise.
   */
  COORDINATOR_PARTITION_GROUPS: z.coerce.number().int().min(0).max(1_024).default(0),
  /**
   * How long a coordinator remembers a finished run (in memory and in the run.state changelog) before its changelog
   * record becomes a tombstone: a duplicate run.requested arriving within it (an outbox row published twice) is
   * recognised; one arriving later is checked against the runs projection in Postgres.
   */
  RUN_FINISHED_RETENTION_MS: positiveInt.max(86_400_000).default(60_000),
  /**
   * Retention: how often the run projectors (whichever claims the turn) expire idempotency keys, prune finished runs
   * and collect unreferenced content blobs; 0 turns all three off.
   */
  RETENTION_INTERVAL_MS: z.coerce.number().int().min(0).max(604_800_000).default(3_600_000),
  /** Age after which a stored `Idempotency-Key` answer is forgotten (a retry then counts as a new request); 0 keeps them. */
  IDEMPOTENCY_KEY_TTL_MS: z.coerce.number().int().min(0).default(604_800_000),
  /**
   * Content blobs no run refers to are deleted once last stored this long ago; 0 keeps every blob. At least 2 h: a
   * blob is stored before the run that names it reaches Postgres, and storing it again refreshes it only hourly.
   */
  CAS_GC_GRACE_MS: z.coerce
    .number()
    .int()
    .refine((v) => v === 0 || v >= 7_200_000, 'must be 0 (off) or at least 7200000 (2 h)')
    .default(604_800_000),
  /**
   * Where content blobs' bytes go: postgres (beside their metadata, compressed, large ones in 1 MiB chunks) or s3 (any
   * S3-compatible store, the CAS_S3_* settings). Metadata stays in Postgres either way, and blobs already stored in
   * Postgres stay readable after a move to s3.
   */
  CAS_BACKEND: z.enum(['postgres', 's3']).default('postgres'),
  /** An S3-compatible endpoint (MinIO, Ceph, R2, S3Proxy…); unset: AWS S3 itself, for CAS_S3_REGION. */
  CAS_S3_ENDPOINT: url(['http:', 'https:']).optional(),
  /** The bucket, created beforehand; required with CAS_BACKEND=s3. */
  CAS_S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 lowercase letters, digits, . and -)')
    .optional(),
  CAS_S3_REGION: z.string().min(1).default('us-east-1'),
  /** Both or neither; neither: the AWS SDK's default credential chain (environment, profile, instance or task role). */
  CAS_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  CAS_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Path-style URLs (endpoint/bucket/key), which most S3-compatible servers need; AWS S3 prefers virtual hosts. */
  CAS_S3_FORCE_PATH_STYLE: bool('false'),
  /** Object keys are `<prefix>/<workspace id>/<sha256>`; lets several deployments share a bucket. */
  CAS_S3_PREFIX: z
    .string()
    .regex(
      /^([a-zA-Z0-9!_.*'()-]+(\/[a-zA-Z0-9!_.*'()-]+)*)?$/,
      'must be path segments of safe characters, no leading or trailing /',
    )
    .default('cas'),
  /**
   * Finished runs (with their events, timers and approvals) are deleted this long after they finished; 0 (the
   * default) keeps them. At least a day, far beyond any late duplicate of a run's request.
   */
  RUN_RETENTION_MS: z.coerce
    .number()
    .int()
    .refine((v) => v === 0 || v >= 86_400_000, 'must be 0 (off) or at least 86400000 (1 day)')
    .default(0),
  /**
   * Workflow definitions a coordinator keeps in memory, by the size of their JSON text; the least recently used go
   * first. A batch that needs more gets them all for its own use.
   */
  COORDINATOR_DEFINITION_CACHE_MAX_BYTES: positiveInt.default(64 * 1024 * 1024),
  /** How often each coordinator looks for due timers (retry backoffs, timeouts, delays). */
  TIMER_POLL_INTERVAL_MS: positiveInt.max(60_000).default(100),
  /** Node types this process executes, each as its own consumer group (hitl and delay need no worker; agent needs LLM_BASE_URL). */
  WORKER_TYPES: z
    .string()
    .default('function,http_request')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(['function', 'http_request', 'agent']))),
  WORKER_MAX_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(100),
  /** Partition batches a worker group handles at once. */
  WORKER_CONCURRENCY: positiveInt.max(256).default(16),
  /** Tasks of one batch executed at once (http requests wait on the network, so many can be in flight). */
  WORKER_TASK_PARALLELISM: positiveInt.max(1_000).default(32),
  HTTP_NODE_TIMEOUT_MS: positiveInt.max(3_600_000).default(30_000),
  /**
   * An OpenAI-compatible Chat Completions API (its base, e.g. https://api.openai.com/v1) that agent nodes call;
   * required when WORKER_TYPES has agent. Set by the operator, so it is not subject to the SSRF guard.
   */
  LLM_BASE_URL: url(['http:', 'https:']).optional(),
  /** Sent as `Authorization: Bearer …`; local models behind an OpenAI-compatible server often need none. */
  LLM_API_KEY: z.string().min(1).optional(),
  /** Upper bound of one agent call when the node's own deadline is later (model answers take seconds to minutes). */
  AGENT_TIMEOUT_MS: positiveInt.max(3_600_000).default(120_000),
  AGENT_MAX_RESPONSE_BYTES: positiveInt.max(268_435_456).default(4 * 1_048_576),
  HTTP_MAX_RESPONSE_BYTES: positiveInt.max(1_073_741_824).default(10 * 1_048_576),
  HTTP_MAX_REDIRECTS: z.coerce.number().int().min(0).max(20).default(5),
  /**
   * The node result cache (Redis): identical node attempts of one workspace and permission share results. false turns
   * it off everywhere; CACHE_WORKSPACE_POLICIES and a node's own `cache` setting refine it.
   */
  CACHE_ENABLED: bool('true'),
  /** The Redis that holds cached node results; REDIS_URL unless set (a cache of its own: allkeys-lru, no persistence). */
  CACHE_REDIS_URL: redisAddress.optional(),
  /** Past this a cache command counts as failed and the node runs uncached: a slow Redis never holds a node up long. */
  CACHE_REDIS_TIMEOUT_MS: positiveInt.max(10_000).default(250),
  /**
   * Concurrent identical misses run once: the first takes a lease in Redis for this long and renews it every third of
   * it while its node runs; if it dies the lease lapses and the others run themselves.
   */
  CACHE_LEASE_MS: positiveInt.min(100).max(600_000).default(10_000),
  /** How long a task waits for an identical one that holds the lease before it runs itself (0: never waits). */
  CACHE_WAIT_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  /** Results larger than this as JSON are not cached. */
  CACHE_MAX_ENTRY_BYTES: positiveInt.max(64 * 1_048_576).default(1_048_576),
  /**
   * Per workspace, a JSON object: `{"<workspace id>": {"enabled": false}, "<id>": {"ttlMs": {"http_request": 600000}}}`
   * (ttlMs per node type replaces the default; 0 turns that type off for the workspace).
   */
  CACHE_WORKSPACE_POLICIES: workspaceCachePolicies.default(new Map()),
  /** Results in which one of these finds something are never cached (comma-separated; `none` for none). */
  CACHE_SENSITIVE_DETECTORS: sensitiveDetectorList.default([...SENSITIVE_DETECTORS]),
  /** More patterns whose match keeps a result out of the cache: a JSON array of RE2 regular expressions. */
  CACHE_SENSITIVE_PATTERNS: sensitivePatternList.default([]),
  /**
   * Token prices per model, per million tokens, for the cache's estimated cost saved (GET /v1/cache/stats):
   * `{"gpt-4o-mini": {"promptPerMillion": 0.15, "completionPerMillion": 0.6}}`. Hits of unpriced models save nothing.
   */
  CACHE_TOKEN_PRICES: tokenPrices.default(new Map()),
  /**
   * The semantic cache of agent nodes: an answer is served to a prompt whose embedding is at least
   * SEMANTIC_CACHE_SIMILARITY (cosine) like a cached one's, of the same workspace, permission, model and system prompt.
   * On where EMBEDDINGS_BASE_URL is set (and CACHE_ENABLED); false turns it off alone.
   */
  SEMANTIC_CACHE_ENABLED: bool('true'),
  /** Postgres with pgvector that holds the semantic cache (migrations/vector; the local stack serves PGlite here). */
  VECTOR_DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5433/postgres'),
  VECTOR_DATABASE_POOL_MAX: positiveInt.max(100).default(4),
  /** Past this a semantic cache query counts as failed (a miss): a slow vector database never holds a node up long. */
  VECTOR_DATABASE_TIMEOUT_MS: positiveInt.max(10_000).default(500),
  /** An OpenAI-compatible embeddings API (its base, e.g. https://api.openai.com/v1); unset: no semantic cache. */
  EMBEDDINGS_BASE_URL: url(['http:', 'https:']).optional(),
  EMBEDDINGS_API_KEY: z.string().min(1).optional(),
  EMBEDDINGS_MODEL: z.string().min(1).default('text-embedding-3-small'),
  /** The vectors' length, asked of the API (`dimensions`) and checked on every answer. */
  EMBEDDINGS_DIMENSIONS: positiveInt.max(16_000).default(1536),
  /** Past this an embedding counts as failed (a miss) and the model is asked. */
  EMBEDDINGS_TIMEOUT_MS: positiveInt.max(60_000).default(2_000),
  /** The default threshold; a node's `cache.similarity` replaces it. */
  SEMANTIC_CACHE_SIMILARITY: z.coerce.number().min(MIN_SEMANTIC_SIMILARITY).max(1).default(0.92),
  /** How long an answer stays in the semantic cache by default (24 h); per workspace and per node as for the exact cache. */
  SEMANTIC_CACHE_TTL_MS: positiveInt.max(MAX_CACHE_TTL_MS).default(86_400_000),
  /** Node outputs larger than this (as JSON) go to content-addressed storage; events carry the reference. */
  OUTPUT_INLINE_MAX_BYTES: positiveInt.max(900_000).default(65_536),
  /**
   * A run input, a task's input (the run input and the finished nodes' inline outputs) or config, or a run's state or
   * effects larger than this (as JSON) go to content-addressed storage; the event carries the reference instead.
   */
  EVENT_INLINE_MAX_BYTES: positiveInt.max(900_000).default(131_072),
  /**
   * The largest message (and request) the coordinator and the workers produce: at or under the broker's
   * message.max.bytes (1048588 by default) and every topic's max.message.bytes. A transaction's messages are sent in
   * requests under it; a run whose messages would still exceed it fails (RunTooLarge) instead of wedging its partition.
   */
  KAFKA_MESSAGE_MAX_BYTES: positiveInt
    .min(65_536)
    .max(100 * 1_048_576)
    .default(1_000_000),
  /** A run input larger than this (as JSON) is refused with 413 (the body limit, HTTP_BODY_LIMIT_BYTES, also applies). */
  RUN_INPUT_MAX_BYTES: positiveInt.max(64 * 1_048_576).default(1_048_576),
  /**
   * Time limit of one JSONata evaluation (function nodes, edge conditions, prompt placeholders), in CPU time of the
   * thread that runs it (wall time off Linux), and ten times it in wall time: past either the thread is terminated and
   * the expression fails with ExpressionLimitError. CPU time, so that a loaded machine does not fail innocent ones.
   */
  EXPRESSION_TIMEOUT_MS: positiveInt.max(60_000).default(1_000),
  /** Threads evaluating expressions, per process (shared by its coordinator and worker roles). */
  EXPRESSION_THREADS: positiveInt.max(64).default(2),
  /**
   * Heap cap of each expression thread, a backstop well above what a bounded expression allocates: one allocation
   * past it aborts the whole process instead of the thread (nodejs/node#47224); the time limit stops bombs first.
   */
  EXPRESSION_MAX_HEAP_MB: positiveInt.min(256).max(16_384).default(1_024),
  /** Largest result of one expression, as JSON; above HTTP_MAX_RESPONSE_BYTES so a function node can pass one on. */
  EXPRESSION_MAX_RESULT_BYTES: positiveInt.max(1_073_741_824).default(16 * 1_048_576),
  /** Where the API forwards the two SSE routes when the fanout role runs in a process of its own. */
  FANOUT_URL: url(['http:', 'https:']).default('http://127.0.0.1:9405'),
  /** SSE keep-alive interval; an idle stream also re-reads Postgres this often (under the proxy's 300 s body timeout). */
  FANOUT_HEARTBEAT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
  /**
   * How long the fanout keeps every subject's raw events in memory: a stream opened right after a run started finds its
   * first events here before the run projector has written them to Postgres.
   */
  FANOUT_RECENT_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  /** The byte cap of those kept events; the quietest subjects go first. */
  FANOUT_RECENT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(64 * 1024 * 1024),
  /** TCP_NODELAY on accepted sockets: small answers leave at once instead of waiting for an ACK (Nagle). */
  HTTP_NO_DELAY: bool('true'),
  /** SO_KEEPALIVE on accepted sockets, so peers that vanished without a FIN (a dead LB, a cut NAT entry) are noticed. */
  HTTP_TCP_KEEPALIVE: bool('true'),
  /** Idle time before the first keep-alive probe (TCP_KEEPIDLE); the kernel default is 2 h. */
  HTTP_TCP_KEEPALIVE_DELAY_MS: z.coerce.number().int().min(1_000).max(7_200_000).default(60_000),
  /**
   * How long an idle HTTP/1.1 keep-alive connection is held open. Above the 60 s idle timeout of the usual load
   * balancers, so the balancer (not the service) closes idle connections and never reuses one being closed.
   * 0 turns HTTP keep-alive off: every answer closes its connection.
   */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(65_000),
  /** HTTP/2 over cleartext with prior knowledge (h2c) instead of HTTP/1.1; for a proxy or mesh that speaks h2c. */
  HTTP_H2C: bool('false'),
  /** API processes sharing the port (SO_REUSEPORT; Linux); only for a process that runs the api role alone. */
  HTTP_PROCESSES: positiveInt.max(64).default(1),
  /** A start-up warning names the open-file limit when it is below this (each connection is a descriptor); 0: no check. */
  FD_LIMIT_MIN: z.coerce.number().int().min(0).default(65_536),
  /** The api role exports consumer lag of this deployment's groups (kafka_consumergroup_* on /metrics) when true. */
  LAG_EXPORTER_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
});

export const LOCAL_BOOTSTRAP_ADMIN_KEY = 'local-admin-key-change-me';

/** The schema plus rules that span variables. */
export const appConfigSchema = configSchema.superRefine((config, ctx) => {
  if (config.NODE_ENV === 'production' && config.BOOTSTRAP_ADMIN_KEY === LOCAL_BOOTSTRAP_ADMIN_KEY) {
    ctx.addIssue({
      code: 'custom',
      path: ['BOOTSTRAP_ADMIN_KEY'],
      message: 'must be set to a secret of your own in production',
    });
  }
  if (config.WORKER_TYPES.includes('agent') && config.LLM_BASE_URL === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['LLM_BASE_URL'],
      message: 'is required when WORKER_TYPES includes agent (the Chat Completions API agent nodes call)',
    });
  }
  for (const inline of ['EVENT_INLINE_MAX_BYTES', 'OUTPUT_INLINE_MAX_BYTES'] as const) {
    if (config[inline] * 2 > config.KAFKA_MESSAGE_MAX_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: [inline],
        message: `must be at most half of KAFKA_MESSAGE_MAX_BYTES (${config.KAFKA_MESSAGE_MAX_BYTES}), so that what stays inline fits in a message`,
      });
    }
  }
  if (config.CAS_BACKEND === 's3' && config.CAS_S3_BUCKET === undefined) {
    ctx.addIssue({ code: 'custom', path: ['CAS_S3_BUCKET'], message: 'is required when CAS_BACKEND is s3' });
  }
  if ((config.CAS_S3_ACCESS_KEY_ID === undefined) !== (config.CAS_S3_SECRET_ACCESS_KEY === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [config.CAS_S3_ACCESS_KEY_ID === undefined ? 'CAS_S3_ACCESS_KEY_ID' : 'CAS_S3_SECRET_ACCESS_KEY'],
      message: 'must be set together with its pair (or neither, for the default credential chain)',
    });
  }
  if (config.HTTP_H2C && config.HTTP_KEEP_ALIVE_TIMEOUT_MS === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['HTTP_KEEP_ALIVE_TIMEOUT_MS'],
      message:
        'cannot be 0 (keep-alive off) with HTTP_H2C=true: an HTTP/2 connection carries every request of its client',
    });
  }
});

export type AppConfig = z.output<typeof configSchema>;
