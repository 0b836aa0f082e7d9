import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REPO_ROOT } from '../processes.js';
import { exec, type PrivateService } from './service.js';
import { startTcpCut } from './tcp-cut.js';

/**
 * An Apicurio registry of its own (infra/registry/registry.sh with its own state dir and ports, in-memory storage),
 * reached through a TCP relay. `down()` cuts the relay rather than stopping the JVM: the platform sees exactly a
 * stopped registry (connections reset, then refused), and the registry is back at once when mended, where a JVM
 * restart takes 20 to 70 s on a busy two-core machine and its in-memory schemas would be gone.
 */
export async function startPrivateRegistry(defer: (cleanup: () => unknown) => void): Promise<PrivateService> {
  const home = await mkdtemp(join(tmpdir(), 'orch-registry-'));
  const port = await freePort();
  const env = {
    ...process.env,
    SCHEMA_REGISTRY_STATE_DIR: home,
    SCHEMA_REGISTRY_PORT: String(port),
    SCHEMA_REGISTRY_MGMT_PORT: String(await freePort()),
    SCHEMA_REGISTRY_STORAGE: 'mem',
    SCHEMA_REGISTRY_XMX: '256m',
  };
  const registrySh = (command: string) =>
    exec('bash', [join(REPO_ROOT, 'infra/registry/registry.sh'), command], { env, timeout: 180_000 });
  defer(async () => {
    await registrySh('stop').catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });
  await registrySh('start');
  const relay = await startTcpCut(port);
  defer(() => relay.close());
  return {
    check: 'schemaRegistry',
    address: `http://127.0.0.1:${relay.port}/apis/ccompat/v7`,
    down: () => relay.cut(),
    up: () => relay.mend(),
  };
}
