import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRedis } from '#libs/redis';
import { REPO_ROOT } from '#test/support/processes.js';
import { asConfigGetValue, parseRedisConf } from './redis-conf.js';

const CONF = join(REPO_ROOT, 'infra/redis/redis.conf');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

// A throwaway redis-server on a free port with the committed file; the machine's Redis on 6379 is never touched.
describe('infra/redis/redis.conf in a real redis-server', () => {
  let dir = '';
  let server: ChildProcess | undefined;
  let port = 0;
  let log = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orchestrator-redis-'));
    port = await freePort();
    server = spawn(
      'redis-server',
      [CONF, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    server.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    server.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (!log.includes('Ready to accept connections')) {
      if (server.exitCode !== null) assert.fail(`redis-server exited (${server.exitCode}):\n${log}`);
      if (Date.now() > deadline) assert.fail(`redis-server did not start:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs with every value of the file (CONFIG GET)', async () => {
    const redis = createRedis(`redis://127.0.0.1:${port}`, 'redis-conf-test');
    try {
      await redis.connect();
      const directives = parseRedisConf(await readFile(CONF, 'utf8'));
      assert.ok(directives.length > 10);
      for (const { name, value } of directives) {
        const [, actual] = (await redis.config('GET', name)) as string[];
        assert.equal(actual, asConfigGetValue(value), `${name} (redis-server log:\n${log})`);
      }
      assert.deepEqual(await redis.config('GET', 'port'), ['port', String(port)], 'the throwaway server, not 6379');
    } finally {
      await redis.quit();
    }
  });

  it('evicts instead of refusing writes when full', async () => {
    const redis = createRedis(`redis://127.0.0.1:${port}`, 'redis-conf-eviction-test');
    try {
      await redis.connect();
      // Shrink this throwaway server only, so filling it takes a moment.
      await redis.config('SET', 'maxmemory', String(4 * 1024 * 1024));
      const value = 'x'.repeat(10_000);
      for (let i = 0; i < 2_000; i++) await redis.set(`k${i}`, value);
      const info = await redis.info('stats');
      assert.ok(Number(/evicted_keys:(\d+)/.exec(info)?.[1]) > 0, 'keys were evicted');
    } finally {
      await redis.quit();
    }
  });
});
