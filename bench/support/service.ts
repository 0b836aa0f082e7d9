import { freePort, startProcess, waitForHttpOk, type RunningProcess } from '#test/support/processes.js';
import type { Resources } from './resources.js';
import type { Sandbox } from './sandbox.js';

/** The roles `bench/service.main.ts` knows (BENCH_ROLES). */
export const SERVICE_ROLES = ['api', 'outbox-relay', 'materializer', 'coordinator', 'worker'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

export interface Service {
  readonly roles: readonly ServiceRole[];
  readonly origin: string;
  readonly pid: number;
  readonly process: RunningProcess;
}

/** How service processes are started: log level, and where --cpu-prof writes its profiles (none when unset). */
export interface ServiceOptions {
  readonly serviceLogLevel: string;
  readonly cpuProfileDir: string | undefined;
}

const ENTRY = 'dist/bench/service.main.js';

/**
 * Starts the given roles in a child process against the sandbox, on a free port, and waits for /health. Stopping it
 * (SIGTERM, a graceful shutdown, which is also when --cpu-prof writes its profile) is deferred to `resources`; a
 * non-zero exit is reported with the process output. `env` adds to (or overrides) the platform's variables.
 */
export async function startService(
  sandbox: Sandbox,
  roles: readonly ServiceRole[],
  options: ServiceOptions,
  resources: Resources,
  env: Record<string, string> = {},
): Promise<Service> {
  const port = await freePort();
  const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  const child = startProcess(process.execPath, [...nodeArgs, ENTRY], {
    ...process.env,
    BENCH_ROLES: roles.join(','),
    PORT: String(port),
    DATABASE_URL: sandbox.databaseUrl,
    KAFKA_TOPIC_PREFIX: sandbox.topicPrefix,
    KAFKA_PARTITIONS: String(sandbox.config.KAFKA_PARTITIONS),
    KAFKA_CLIENT_ID: sandbox.id,
    LOG_LEVEL: options.serviceLogLevel,
    ...env,
  });
  resources.defer(`service ${roles.join('+')}`, async () => {
    const code = await child.stop('SIGTERM');
    if (code !== 0) throw new Error(`service exited with ${code}:\n${child.output().slice(-4000)}`);
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttpOk(`${origin}/health`, child);
  return { roles, origin, pid: child.child.pid as number, process: child };
}

/** Starts one process per role list, in order (so the consumers of what the first one produces are up before it is). */
export async function startServices(
  sandbox: Sandbox,
  layout: readonly (readonly ServiceRole[])[],
  options: ServiceOptions,
  resources: Resources,
  env: Record<string, string> = {},
): Promise<Service[]> {
  const services: Service[] = [];
  for (const roles of layout) services.push(await startService(sandbox, roles, options, resources, env));
  return services;
}
