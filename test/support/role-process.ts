import type { TestContext } from '#test/harness/test-context.js';
import { freePort, startProcess, waitForHttpOk, type RunningProcess } from './processes.js';

export interface RoleProcess {
  readonly port: number;
  current(): RunningProcess;
  /** SIGKILL: no shutdown hook runs, nothing is flushed or committed. */
  kill(): Promise<void>;
  /** Starts it again on the same port, and waits until it is healthy. */
  restart(): Promise<void>;
}

/**
 * One app of apps/ as its own process against the test file's database and topics, to be killed and restarted;
 * stopped with SIGKILL after the file if still running.
 */
export async function startRoleProcess(
  ctx: TestContext,
  app: 'api' | 'coordinator' | 'run-projector' | 'worker' | 'outbox-relay' | 'materializer' | 'fanout' | 'all-in-one',
  env: Record<string, string> = {},
): Promise<RoleProcess> {
  const port = await freePort();
  let proc: RunningProcess | undefined;
  const start = async () => {
    const started = startProcess(process.execPath, [`dist/apps/${app}/src/main.js`], {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: ctx.databaseUrl,
      KAFKA_TOPIC_PREFIX: ctx.topicPrefix,
      KAFKA_PARTITIONS: String(ctx.config.KAFKA_PARTITIONS),
      // A killed member's partitions move once its session lapses; keep that wait short.
      CONSUMER_SESSION_TIMEOUT_MS: '6000',
      LOG_LEVEL: 'warn',
      ...env,
    });
    ctx.defer(() => started.stop('SIGKILL'));
    proc = started;
    await waitForHttpOk(`http://127.0.0.1:${port}/health`, started);
  };
  await start();
  return {
    port,
    current: () => proc as RunningProcess,
    kill: async () => {
      await proc?.stop('SIGKILL');
    },
    restart: start,
  };
}
