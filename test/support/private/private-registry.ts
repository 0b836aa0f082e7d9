import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REPO_ROOT } from '../processes.js';
import { exec, type PrivateService } from './service.js';
import { startTcpCut } from './tcp-cut.js';

/**
 * An Apicurio registry of its own (infra/registry/registry.sh with its own state dir and ports, in-memory storage),
 * reached through a TCP relay. `down()` cuts the relay rather than stopping the JVM: the platform sees what it sees of
 * a stopped registry (connections reset, then refused), and the registry is back at once when mended.
 *
 * A real restart is too slow for the suite on this two-core machine. registry.sh stop then start, measured while other
 * suites ran: stop 2 to 3 s; start with in-memory storage (schemas gone) 8 to 26 s at load 3 to 6 and 27 to 53 s at
 * load 7 to 13; with a Postgres database of its own (schemas and ids kept) 13 to 36 s at load 6 to 10. Side by side
 * at load 6 to 13, the C1 compiler alone (-XX:TieredStopAtLevel=1, used here) started in 13 to 34 s where the
 * default took 13 to 53 s, and C1 with a JDK 25 AOT cache (a 100 MB file from a training run) in 7 to 17 s. Inside
 * this suite, stopped and started in the middle of the load (Postgres storage, C1), it answered again after 28 and
 * 37 s: the platform coped (nothing lost, /health right), but the test took 46 to 57 s instead of 17.
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
    // Starts it sooner while the other private services start beside it; a test registry needs no peak speed.
    SCHEMA_REGISTRY_JAVA_OPTS: '-XX:TieredStopAtLevel=1',
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
