import { startProcess, freePort, type RunningProcess } from '../processes.js';
import { exec, type PrivateService } from './service.js';

/** A redis-server of its own on a free port, without persistence; `down()` stops it (SIGTERM). */
export async function startPrivateRedis(defer: (cleanup: () => unknown) => void): Promise<PrivateService> {
  const port = await freePort();
  let proc: RunningProcess | undefined;
  const up = async () => {
    const started = startProcess(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      process.env,
    );
    proc = started;
    defer(() => started.stop('SIGKILL'));
    for (let i = 0; ; i++) {
      const pong = await exec('redis-cli', ['-p', String(port), 'ping']).catch(() => undefined);
      if (pong?.stdout.trim() === 'PONG') return;
      if (started.child.exitCode !== null || i > 100)
        throw new Error(`redis-server did not start:\n${started.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await up();
  return {
    check: 'redis',
    address: `redis://127.0.0.1:${port}`,
    down: async () => {
      await proc?.stop('SIGTERM');
    },
    up,
  };
}
