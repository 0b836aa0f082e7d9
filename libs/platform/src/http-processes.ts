import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { isHttpProcessMessage } from './http-process-worker.js';
import type { ProcessMetrics } from './process-metrics-merge.js';

/**
 * Why HTTP_PROCESSES > 1 cannot apply to these roles, or undefined when it can. Only the api role alone is copied:
 * the other roles host Kafka consumers, pollers and relays, which scale by running more role processes (their
 * consumer groups and lanes share the work out), and a copy of the all-in-one process would be one of each per core.
 */
export function httpProcessesRefusal(roles: readonly string[], count: number): string | undefined {
  if (count <= 1 || (roles.length === 1 && roles[0] === 'api')) return undefined;
  return (
    `Invalid configuration (1 bad variable):\n  HTTP_PROCESSES: ${count} applies to the api role run alone ` +
    `(apps/api); this process runs ${roles.join(', ')}, whose Kafka consumers and pollers scale by starting more ` +
    `role processes instead. Run the api with HTTP_PROCESSES and the other roles as processes of their own.`
  );
}

/** SO_REUSEPORT needs Linux ≥ 3.9 here; elsewhere the cluster primary accepts and hands connections round-robin. */
export const REUSE_PORT_SUPPORTED = process.platform === 'linux';

export interface SuperviseOptions {
  readonly count: number;
  readonly logger: Logger;
  readonly shutdownTimeoutMs: number;
  /** How long a process that died after it was ready waits before it is started again. */
  readonly restartDelayMs?: number;
}

/**
 * The primary of `count` API processes sharing one port: it starts them one by one (this same entry point, as cluster
 * workers),
 * restarts one that dies after it was ready, gives up (exit 1) when one dies before it ever was, relays /metrics
 * collection, and on SIGINT/SIGTERM passes the signal on and exits once all have stopped: 0 when every one stopped
 * cleanly. It serves nothing itself: each worker binds the port with SO_REUSEPORT and the kernel spreads connections.
 */
export function superviseHttpProcesses(options: SuperviseOptions): void {
  const { count, logger } = options;
  const workers = new Map<number, Worker>();
  const ready = new Set<number>();
  let stopping: { since: number; failed: boolean } | undefined;

  const fork = (index: number) => {
    // One process exports consumer lag: the others would read the same broker figures and report them again.
    const env: Record<string, string> = { HTTP_PROCESS_INDEX: String(index) };
    if (index > 0) env.LAG_EXPORTER_ENABLED = 'false';
    const worker = cluster.fork(env);
    workers.set(index, worker);
    worker.on('exit', (code, signal) => onExit(index, worker, code, signal));
  };

  const finish = (failed: boolean) => {
    logger.info({ processes: count }, failed ? 'stopped (not all processes cleanly)' : 'stopped');
    process.exit(failed ? 1 : 0);
  };

  const onExit = (index: number, worker: Worker, code: number | null, signal: string | null) => {
    if (workers.get(index) === worker) workers.delete(index);
    if (stopping) {
      if (code !== 0) stopping.failed = true;
      if (workers.size === 0) finish(stopping.failed);
      return;
    }
    if (!ready.has(index)) {
      logger.fatal({ index, pid: worker.process.pid, code, signal }, 'an API process exited before it was ready');
      stopAll('SIGTERM', true);
      return;
    }
    ready.delete(index);
    logger.error({ index, pid: worker.process.pid, code, signal }, 'an API process died; starting it again');
    setTimeout(() => {
      if (!stopping) fork(index);
    }, options.restartDelayMs ?? 1_000).unref();
  };

  const stopAll = (signal: NodeJS.Signals, failed: boolean) => {
    stopping = { since: Date.now(), failed };
    for (const worker of workers.values()) worker.process.kill(signal);
    if (workers.size === 0) finish(failed);
    // Each process has its own SHUTDOWN_TIMEOUT_MS; this only catches one that ignores it.
    setTimeout(() => {
      logger.error({ pids: [...workers.values()].map((w) => w.process.pid) }, 'API processes did not stop in time');
      for (const worker of workers.values()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, options.shutdownTimeoutMs + 2_000).unref();
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A process-group signal (Ctrl-C, systemd's KillMode=control-group) reaches the workers directly as well.
      if (Date.now() - stopping.since < 1000) return;
      logger.warn({ signal }, 'second signal: killing the API processes');
      for (const worker of workers.values()) worker.process.kill('SIGKILL');
      process.exit(1);
    }
    logger.info({ signal, processes: workers.size }, 'shutting down');
    stopAll(signal, false);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const collections = new Map<string, { parts: ProcessMetrics[]; expected: number; reply: () => void }>();
  cluster.on('message', (from: Worker, message: unknown) => {
    if (!isHttpProcessMessage(message)) return;
    switch (message.type) {
      case 'orchestrator:ready':
        ready.add(message.index);
        if (!stopping && message.index + 1 < count && !workers.has(message.index + 1)) fork(message.index + 1);
        if (ready.size === count) {
          const pids = [...workers.values()].map((w) => w.process.pid);
          logger.info({ processes: count, pids, reusePort: REUSE_PORT_SUPPORTED }, 'all API processes ready');
        }
        break;
      case 'orchestrator:metrics-request': {
        const live = [...workers.values()].filter((w) => w.isConnected());
        const collection = {
          parts: [] as ProcessMetrics[],
          expected: live.length,
          reply: () => {
            clearTimeout(timer);
            collections.delete(message.id);
            if (from.isConnected())
              from.send({ type: 'orchestrator:metrics-parts', id: message.id, parts: collection.parts });
          },
        };
        const timer = setTimeout(collection.reply, 3_000);
        collections.set(message.id, collection);
        for (const worker of live) worker.send({ type: 'orchestrator:metrics-collect', id: message.id });
        break;
      }
      case 'orchestrator:metrics-part': {
        const collection = collections.get(message.id);
        if (!collection) break;
        collection.parts.push({ index: message.index, metrics: message.metrics });
        if (collection.parts.length === collection.expected) collection.reply();
        break;
      }
      case 'orchestrator:metrics-collect':
      case 'orchestrator:metrics-parts':
        break; // what the supervisor sends, never receives
    }
  });

  logger.info({ processes: count, reusePort: REUSE_PORT_SUPPORTED }, 'starting API processes');
  // One after the other: start-up registers schemas and the bootstrap key, which processes starting at the same
  // moment race on (the registry refused the second COMPATIBILITY rule); the next starts once the last is ready.
  fork(0);
}
