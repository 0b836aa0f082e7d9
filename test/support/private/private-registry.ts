import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabase, withDatabase } from '#libs/db';
import { freePort, REPO_ROOT } from '../processes.js';
import { exec, type PrivateService } from './service.js';

/**
 * An Apicurio registry of its own (infra/registry/registry.sh with its own state dir and ports), storing its schemas
 * in a database of its own on the stack's Postgres server, so they and their ids survive a restart as they do in a
 * real deployment. `down()` stops the process and `up()` starts it again: the platform sees a real restart (connections
 * reset, refused while the JVM starts, then a registry that may answer before it is fully ready).
 */
export async function startPrivateRegistry(defer: (cleanup: () => unknown) => void): Promise<PrivateService> {
  const home = await mkdtemp(join(tmpdir(), 'orch-registry-'));
  const port = await freePort();
  const server = new URL(process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const database = `registry_${randomBytes(4).toString('hex')}`;
  const env = {
    ...process.env,
    SCHEMA_REGISTRY_STATE_DIR: home,
    SCHEMA_REGISTRY_PORT: String(port),
    SCHEMA_REGISTRY_MGMT_PORT: String(await freePort()),
    SCHEMA_REGISTRY_STORAGE: 'postgres',
    SCHEMA_REGISTRY_DB: database,
    SCHEMA_REGISTRY_XMX: '256m',
    SCHEMA_REGISTRY_JAVA_OPTS: '-XX:TieredStopAtLevel=1',
    PGHOST: server.hostname,
    PGPORT: server.port || '5432',
  };
  const registrySh = (command: string) =>
    exec('bash', [join(REPO_ROOT, 'infra/registry/registry.sh'), command], { env, timeout: 180_000 });
  defer(async () => {
    await registrySh('stop').catch(() => undefined);
    await dropDatabase(withDatabase(server.toString(), database));
    await rm(home, { recursive: true, force: true });
  });
  const up = async () => {
    await registrySh('start');
  };
  await up();
  return {
    check: 'schemaRegistry',
    address: `http://127.0.0.1:${port}/apis/ccompat/v7`,
    down: async () => {
      await registrySh('stop');
    },
    up,
  };
}
