import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REPO_ROOT } from '../processes.js';
import { exec, type PrivateService } from './service.js';

/**
 * A single-node Kafka broker of its own (infra/kafka/kafka.sh with its own home, ports and data). `down()` is a
 * SIGKILL: nothing is flushed, open transactions are left for the restarted broker to abort.
 */
export async function startPrivateKafka(defer: (cleanup: () => unknown) => void): Promise<PrivateService> {
  const home = await mkdtemp(join(tmpdir(), 'orch-kafka-'));
  const version = /<kafka\.version>(.*)<\/kafka\.version>/.exec(
    await readFile(join(REPO_ROOT, 'infra/kafka/pom.xml'), 'utf8'),
  )?.[1];
  if (!version) throw new Error('no Kafka version in infra/kafka/pom.xml');
  // The jars the stack already fetched; kafka.sh fetches them itself if they are not there.
  await symlink(join(REPO_ROOT, '.local/kafka', `lib-${version}`), join(home, `lib-${version}`)).catch(() => undefined);
  const port = await freePort();
  const env = {
    ...process.env,
    KAFKA_HOME_DIR: home,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m',
  };
  const kafkaSh = (command: string) =>
    exec('bash', [join(REPO_ROOT, 'infra/kafka/kafka.sh'), command], { env, timeout: 180_000 });
  defer(async () => {
    await kafkaSh('stop').catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });
  const up = async () => {
    await kafkaSh('start');
  };
  await up();
  return {
    check: 'kafka',
    address: `127.0.0.1:${port}`,
    down: async () => {
      const pid = Number(await readFile(join(home, 'kafka.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      // Gone before the caller measures anything against "down".
      while (
        await exec('kill', ['-0', String(pid)]).then(
          () => true,
          () => false,
        )
      )
        await new Promise((resolve) => setTimeout(resolve, 50));
    },
    up,
  };
}
