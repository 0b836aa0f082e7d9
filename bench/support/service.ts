import { freePort, startProcess, waitForHttpOk, type RunningProcess } from '#test/support/processes.js';
import type { Resources } from './resources.js';
import type { Sandbox } from './sandbox.js';
import type { BenchSettings } from './settings.js';

export type ServiceRole = 'api' | 'outbox-relay' | 'materializer';

export interface Service {
  readonly origin: string;
  readonly pid: number;
  readonly process: RunningProcess;
}

const ENTRY = 'dist/bench/service.main.js';

/**
 * Starts the given roles in a child process against the sandbox, on a free port, and waits for /health. Stopping it
 * (SIGTERM, a graceful shutdown) is deferred to `resources`; a non-zero exit is reported with the process output.
 */
export async function startService(
  sandbox: Sandbox,
  roles: readonly ServiceRole[],
  settings: BenchSettings,
  resources: Resources,
): Promise<Service> {
  const port = await freePort();
  const nodeArgs = settings.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfileDir}`] : [];
  const child = startProcess(process.execPath, [...nodeArgs, ENTRY], {
    ...process.env,
    BENCH_ROLES: roles.join(','),
    PORT: String(port),
    DATABASE_URL: sandbox.databaseUrl,
    KAFKA_TOPIC_PREFIX: sandbox.topicPrefix,
    KAFKA_PARTITIONS: String(sandbox.config.KAFKA_PARTITIONS),
    KAFKA_CLIENT_ID: sandbox.id,
    LOG_LEVEL: settings.serviceLogLevel,
  });
  resources.defer(`service ${roles.join('+')}`, async () => {
    const code = await child.stop('SIGTERM');
    if (code !== 0) throw new Error(`service exited with ${code}:\n${child.output().slice(-4000)}`);
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttpOk(`${origin}/health`, child);
  return { origin, pid: child.child.pid as number, process: child };
}
