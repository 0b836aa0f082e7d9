import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '#test/support/processes.js';
import { asConfigGetValue, parseDragonflyFlags, parseRedisConf } from './redis-conf.js';

const read = (file: string) => readFile(join(REPO_ROOT, 'infra/redis', file), 'utf8');

describe('redis.conf parsing', () => {
  it('reads directives, unquotes arguments and refuses a directive set twice', () => {
    assert.deepEqual(parseRedisConf('# c\nsave ""\nMaxMemory 2gb\nclient-output-buffer-limit pubsub 32mb 8mb 60\n'), [
      { name: 'save', value: '' },
      { name: 'maxmemory', value: '2gb' },
      { name: 'client-output-buffer-limit', value: 'pubsub 32mb 8mb 60' },
    ]);
    assert.throws(() => parseRedisConf('maxmemory 1gb\nmaxmemory 2gb'), /set twice/);
  });

  it('converts memory units as Redis does (k = 1000, kb = 1024)', () => {
    assert.equal(asConfigGetValue('2gb'), String(2 * 1024 ** 3));
    assert.equal(asConfigGetValue('1k'), '1000');
    assert.equal(asConfigGetValue('100MB'), String(100 * 1024 ** 2));
    assert.equal(asConfigGetValue('allkeys-lru'), 'allkeys-lru');
  });
});

describe('infra/redis', () => {
  it('is a pure cache: evicts any key when full and persists nothing', async () => {
    const conf = new Map(parseRedisConf(await read('redis.conf')).map((d) => [d.name, d.value]));
    assert.match(conf.get('maxmemory-policy') ?? '', /^allkeys-/);
    assert.ok(Number(asConfigGetValue(conf.get('maxmemory') ?? '0')) > 0, 'a memory limit, or nothing is evicted');
    assert.equal(conf.get('save'), '');
    assert.equal(conf.get('appendonly'), 'no');
  });

  it('the Dragonfly flags say the same as redis.conf', async () => {
    const conf = new Map(parseRedisConf(await read('redis.conf')).map((d) => [d.name, d.value]));
    const flags = parseDragonflyFlags(await read('dragonfly.flags'));
    assert.equal(asConfigGetValue(flags.get('maxmemory') ?? ''), asConfigGetValue(conf.get('maxmemory') ?? ''));
    assert.equal(flags.get('cache_mode'), 'true');
    assert.equal(flags.get('dbfilename'), '');
    for (const [flag, directive] of [
      ['tcp_keepalive', 'tcp-keepalive'],
      ['maxclients', 'maxclients'],
      ['slowlog_log_slower_than', 'slowlog-log-slower-than'],
      ['slowlog_max_len', 'slowlog-max-len'],
    ] as const) {
      assert.equal(flags.get(flag), conf.get(directive), flag);
    }
  });
});
