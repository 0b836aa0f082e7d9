import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../processes.js';
import { exec, type PrivateService } from './service.js';

const BIN = process.env.TEST_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL server of its own (initdb in a temp dir, trust auth, a free port). Postgres refuses to run as root, so
 * under root its tools run as the `postgres` system user. `down()` is an immediate shutdown: every connection is cut
 * and the next start recovers from the WAL, as after a crash.
 */
export async function startPrivatePostgres(defer: (cleanup: () => unknown) => void): Promise<PrivateService> {
  const home = await mkdtemp(join(tmpdir(), 'orch-pg-'));
  const data = join(home, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const run = async (tool: string, args: string[]) => {
    const command = join(BIN, tool);
    return asRoot ? exec('runuser', ['-u', 'postgres', '--', command, ...args]) : exec(command, args);
  };
  if (asRoot) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const { stdout: gid } = await exec('id', ['-g', 'postgres']);
    await chown(home, Number(stdout.trim()), Number(gid.trim()));
  }
  const ctl = (...args: string[]) => run('pg_ctl', ['-D', data, ...args]);
  defer(async () => {
    await ctl('stop', '-m', 'immediate', '-w').catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });
  await run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  // No durability needed for a throw-away cluster; the socket goes in the temp dir, not /var/run.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${home} -c fsync=off -c max_connections=200`;
  const up = async () => {
    await ctl('start', '-w', '-t', '60', '-l', join(home, 'postgres.log'), '-o', options);
  };
  await up();
  return {
    check: 'postgres',
    address: `postgres://postgres@127.0.0.1:${port}`,
    down: async () => {
      await ctl('stop', '-m', 'immediate', '-w');
    },
    up,
  };
}
