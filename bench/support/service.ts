import { execFileSync } from 'node:child_process';
import { freePort, startProcess, waitForHttpOk, type RunningProcess } from '#test/support/processes.js';
import type { Resources } from './resources.js';
import type { Sandbox } from './sandbox.js';

/** The roles `bench/service.main.ts` knows (BENCH_ROLES). */
export const SERVICE_ROLES = [
  'api',
  'outbox-relay',
  'materializer',
  'coordinator',
  'run-projector',
  'worker',
  'fanout',
] as const;
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

export interface HttpTarget {
  readonly origin: string;
  readonly pid: number;
  readonly process: RunningProcess;
}

/** Listening sockets on the port (ss), to tell when every one of several processes sharing it is up. */
function listeners(port: number): number {
  const out = execFileSync('ss', ['-ltnH', `( sport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.trim()).length;
}

/**
 * A process serving HTTP on a free port (`entry` under dist/), stopped with SIGTERM by `resources` (a graceful
 * shutdown, which is also when --cpu-prof writes its profile; a non-zero exit is reported with the process output).
 * Ready once /health answers 200 and `listening` sockets are bound to the port.
 */
export async function startHttpProcess(
  entry: string,
  env: Record<string, string>,
  resources: Resources,
  options: {
    readonly nodeArgs?: readonly string[];
    readonly listening?: number;
    readonly name?: string;
    /** Called with the pid right after the spawn, before the process is ready (e.g. to put it in a cgroup). */
    readonly onSpawn?: (pid: number) => void;
  } = {},
): Promise<HttpTarget> {
  const name = options.name ?? entry;
  const port = await freePort();
  const child = startProcess(process.execPath, [...(options.nodeArgs ?? []), entry], {
    ...process.env,
    ...env,
    PORT: String(port),
  });
  if (options.onSpawn) {
    try {
      options.onSpawn(child.child.pid as number);
    } catch (error) {
      await child.stop('SIGKILL');
      throw error;
    }
  }
  resources.defer(name, async () => {
    const code = await child.stop('SIGTERM');
    if (code !== 0) throw new Error(`${name} exited with ${code}:\n${child.output().slice(-4000)}`);
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttpOk(`${origin}/health`, child);
  const listening = options.listening ?? 1;
  for (const deadline = Date.now() + 60_000; listeners(port) < listening;) {
    if (Date.now() > deadline || child.child.exitCode !== null) {
      throw new Error(`${name}: ${listeners(port)} of ${listening} listeners:\n${child.output().slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { origin, pid: child.child.pid as number, process: child };
}

/** What every service process of a benchmark runs against: the sandbox's database and topics. */
export const sandboxEnv = (sandbox: Sandbox, logLevel: string): Record<string, string> => ({
  DATABASE_URL: sandbox.databaseUrl,
  KAFKA_TOPIC_PREFIX: sandbox.topicPrefix,
  KAFKA_PARTITIONS: String(sandbox.config.KAFKA_PARTITIONS),
  KAFKA_CLIENT_ID: sandbox.id,
  LOG_LEVEL: logLevel,
  // The benchmarks measure throughput from one address and one key, which the production limits would cap.
  REDIS_KEY_PREFIX: `${sandbox.id}:`,
  RATE_LIMIT_PER_KEY: '0',
  RATE_LIMIT_PER_ADDRESS: '0',
  SSE_MAX_STREAMS_PER_WORKSPACE: '0',
});

/**
 * Starts the given roles in a child process against the sandbox (bench/service.main.ts). `env` adds to (or
 * overrides) the platform's variables.
 */
export async function startService(
  sandbox: Sandbox,
  roles: readonly ServiceRole[],
  options: ServiceOptions,
  resources: Resources,
  env: Record<string, string> = {},
): Promise<Service> {
  const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  const target = await startHttpProcess(
    ENTRY,
    { BENCH_ROLES: roles.join(','), ...sandboxEnv(sandbox, options.serviceLogLevel), ...env },
    resources,
    { nodeArgs, name: `service ${roles.join('+')}` },
  );
  return { roles, ...target };
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
