import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './load-config.js';
import { parseRedisAddress } from './redis-address.js';

describe('parseRedisAddress', () => {
  it('keeps a one-server URL as ioredis reads it', () => {
    assert.deepEqual(parseRedisAddress('redis://:secret@10.0.0.5:6379/2'), {
      kind: 'server',
      url: 'redis://:secret@10.0.0.5:6379/2',
    });
    assert.equal(parseRedisAddress('rediss://cache.internal:6380').kind, 'server');
  });

  it('reads a cluster URL: seed nodes, credentials (URL-decoded) and TLS', () => {
    assert.deepEqual(parseRedisAddress('redis+cluster://127.0.0.1:7001,127.0.0.1:7002/'), {
      kind: 'cluster',
      nodes: [
        { host: '127.0.0.1', port: 7001 },
        { host: '127.0.0.1', port: 7002 },
      ],
      tls: false,
    });
    assert.deepEqual(parseRedisAddress('rediss+cluster://app:p%40ss@[::1]:7001, redis-0.svc:6379'), {
      kind: 'cluster',
      nodes: [
        { host: '::1', port: 7001 },
        { host: 'redis-0.svc', port: 6379 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    assert.deepEqual(parseRedisAddress('redis+cluster://:secret@h:1'), {
      kind: 'cluster',
      nodes: [{ host: 'h', port: 1 }],
      password: 'secret',
      tls: false,
    });
  });

  it('refuses what it cannot read, saying why', () => {
    for (const bad of ['redis+cluster://h', 'redis+cluster://h:1,', 'redis+cluster://h:99999', 'http://h:1', 'x']) {
      assert.throws(() => parseRedisAddress(bad), /host:port|must be a URL|no database/, bad);
    }
    assert.throws(() => parseRedisAddress('redis+cluster://h:1/0'), /no database/, 'a cluster has no databases');
  });

  it('is what REDIS_URL and CACHE_REDIS_URL accept', () => {
    const config = loadConfig({ REDIS_URL: 'redis+cluster://a:1,b:2', CACHE_REDIS_URL: 'redis+cluster://c:3' });
    assert.equal(config.REDIS_URL, 'redis+cluster://a:1,b:2');
    assert.throws(() => loadConfig({ CACHE_REDIS_URL: 'redis+cluster://c' }), /CACHE_REDIS_URL: .*host:port/);
  });
});
