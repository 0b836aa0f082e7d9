import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../processes.js';
import { startPrivatePostgres } from './private-postgres.js';
import { exec } from './service.js';

const BIN = process.env.TEST_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PrivateReplicaPair {
  /** Server addresses without a database (`postgres://postgres@127.0.0.1:<port>`): append `/<database>`. */
  readonly primary: string;
  readonly replica: string;
  /** Stops and restarts replaying WAL on the replica (it keeps receiving it meanwhile). */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the replica has replayed everything the primary had written when this was called. */
  caughtUp(): Promise<void>;
  /** Shuts the replica down (immediate: its connections are cut). */
  stopReplica(): Promise<void>;
}

/**
 * A primary and a hot-standby streaming replica of their own, for a test file: a tiny primary (initdb in a temp dir,
 * startPrivatePostgres) and a base backup of it (pg_basebackup -R -X stream) started as its standby on another free
 * port, both as the `postgres` user under root. The machine's cluster, with every test database on it, is never
 * copied. Both are shut down and removed after the file.
 */
export async function startPrivateReplicaPair(defer: (cleanup: () => unknown) => void): Promise<PrivateReplicaPair> {
  const primary = await startPrivatePostgres(defer);
  const primaryPort = new URL(primary.address).port;
  const home = await mkdtemp(join(tmpdir(), 'orch-pg-replica-'));
  const data = join(home, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) => {
    const command = join(BIN, tool);
    return asRoot ? exec('runuser', ['-u', 'postgres', '--', command, ...args]) : exec(command, args);
  };
  if (asRoot) {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      exec('id', ['-u', 'postgres']),
      exec('id', ['-g', 'postgres']),
    ]);
    await chown(home, Number(uid.trim()), Number(gid.trim()));
  }
  const ctl = (...args: string[]) => run('pg_ctl', ['-D', data, ...args]);
  defer(async () => {
    await ctl('stop', '-m', 'immediate', '-w').catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });
  // initdb's pg_hba.conf already lets 127.0.0.1 connect for replication; -R writes standby.signal and
  // primary_conninfo, -X stream copies the WAL written during the backup.
  await run('pg_basebackup', [
    '-h',
    '127.0.0.1',
    '-p',
    primaryPort,
    '-U',
    'postgres',
    '-D',
    data,
    '-R',
    '-X',
    'stream',
  ]);
  await ctl(
    'start',
    '-w',
    '-t',
    '60',
    '-l',
    join(home, 'postgres.log'),
    '-o',
    `-p ${port} -c listen_addresses=127.0.0.1 -k ${home} -c fsync=off -c max_connections=200 -c hot_standby=on`,
  );
  const replica = `postgres://postgres@127.0.0.1:${port}`;

  const query = async <R extends object>(server: string, text: string): Promise<R | undefined> => {
    const client = new pg.Client({ connectionString: `${server}/postgres` });
    await client.connect();
    try {
      return (await client.query<R>(text)).rows[0];
    } finally {
      await client.end();
    }
  };
  const inRecovery = await query<{ standby: boolean }>(replica, 'SELECT pg_is_in_recovery() AS standby');
  if (!inRecovery?.standby) throw new Error('the replica came up as a primary (no standby.signal?)');

  return {
    primary: primary.address,
    replica,
    pauseReplay: async () => {
      await query(replica, 'SELECT pg_wal_replay_pause()');
    },
    resumeReplay: async () => {
      await query(replica, 'SELECT pg_wal_replay_resume()');
    },
    stopReplica: async () => {
      await ctl('stop', '-m', 'immediate', '-w');
    },
    caughtUp: async () => {
      const target = await query<{ lsn: string }>(primary.address, 'SELECT pg_current_wal_lsn()::text AS lsn');
      const deadline = Date.now() + 20_000;
      for (;;) {
        const done = await query<{ done: boolean }>(
          replica,
          `SELECT pg_last_wal_replay_lsn() >= '${target?.lsn}'::pg_lsn AS done`,
        );
        if (done?.done) return;
        if (Date.now() > deadline) throw new Error(`the replica did not replay up to ${target?.lsn} in 20 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}
