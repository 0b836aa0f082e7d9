import { execFileSync } from 'node:child_process';
import { freePort, startProcess, waitForHttpOk } from '#test/support/processes.js';
import type { Resources } from './resources.js';
import type { Sandbox } from './sandbox.js';

export interface HttpTarget {
  readonly origin: string;
  readonly pid: number;
}

/** Listening sockets on the port (ss), to tell when every one of several processes sharing it is up. */
function listeners(port: number): number {
  const out = execFileSync('ss', ['-ltnH', `( sport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.trim()).length;
}

/**
 * A process serving HTTP on a free port (`entry` under dist/), stopped with SIGTERM by `resources` (a non-zero exit is
 * reported). Ready once /health answers 200 and `listening` sockets are bound to the port.
 */
export async function startHttpProcess(
  entry: string,
  env: Record<string, string>,
  resources: Resources,
  listening = 1,
): Promise<HttpTarget> {
  const port = await freePort();
  const child = startProcess(process.execPath, [entry], { ...process.env, ...env, PORT: String(port) });
  resources.defer(`process ${entry}`, async () => {
    const code = await child.stop('SIGTERM');
    if (code !== 0) throw new Error(`${entry} exited with ${code}:\n${child.output().slice(-4000)}`);
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttpOk(`${origin}/health`, child);
  for (const deadline = Date.now() + 60_000; listeners(port) < listening;) {
    if (Date.now() > deadline || child.child.exitCode !== null) {
      throw new Error(`${entry}: ${listeners(port)} of ${listening} listeners:\n${child.output().slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { origin, pid: child.child.pid as number };
}

/** The api app (dist/apps/api/src/main.js) against the sandbox, with the variant's environment on top. */
export function startApi(
  sandbox: Sandbox,
  env: Record<string, string>,
  logLevel: string,
  resources: Resources,
): Promise<HttpTarget> {
  return startHttpProcess(
    'dist/apps/api/src/main.js',
    {
      DATABASE_URL: sandbox.databaseUrl,
      KAFKA_TOPIC_PREFIX: sandbox.topicPrefix,
      KAFKA_PARTITIONS: String(sandbox.config.KAFKA_PARTITIONS),
      KAFKA_CLIENT_ID: sandbox.id,
      LOG_LEVEL: logLevel,
      ...env,
    },
    resources,
    Number(env.HTTP_PROCESSES ?? 1),
  );
}
