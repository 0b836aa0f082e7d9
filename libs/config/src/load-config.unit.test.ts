import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './load-config.js';

describe('loadConfig', () => {
  it('gives the local defaults of API.md when nothing is set', () => {
    const config = loadConfig({});
    assert.deepEqual(config.KAFKA_BROKERS, ['127.0.0.1:9092']);
    assert.equal(config.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/orchestrator');
    assert.equal(config.REDIS_URL, 'redis://127.0.0.1:6379');
    assert.equal(config.SCHEMA_REGISTRY_URL, 'http://127.0.0.1:8081/apis/ccompat/v7');
  });

  it('parses overrides', () => {
    const config = loadConfig({ KAFKA_BROKERS: 'a:1, b:2', DATABASE_POOL_MAX: '25', PORT: '9000' });
    assert.deepEqual(config.KAFKA_BROKERS, ['a:1', 'b:2']);
    assert.equal(config.DATABASE_POOL_MAX, 25);
    assert.equal(config.PORT, 9000);
  });

  it('treats an empty variable as unset', () => {
    assert.equal(loadConfig({ REDIS_URL: '' }).REDIS_URL, 'redis://127.0.0.1:6379');
  });

  it('refuses the local bootstrap key in production', () => {
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production' }),
      /BOOTSTRAP_ADMIN_KEY: must be set to a secret of your own/,
    );
    assert.equal(loadConfig({ NODE_ENV: 'production', BOOTSTRAP_ADMIN_KEY: 'x'.repeat(32) }).NODE_ENV, 'production');
  });

  it('names every bad variable in one error', () => {
    const error = (() => {
      try {
        loadConfig({ KAFKA_BROKERS: 'no-port', DATABASE_URL: 'mysql://x', DATABASE_POOL_MAX: '-3', LOG_LEVEL: 'loud' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems.map((p) => p.variable).sort(), [
      'DATABASE_POOL_MAX',
      'DATABASE_URL',
      'KAFKA_BROKERS',
      'LOG_LEVEL',
    ]);
    assert.match(error.message, /4 bad variables/);
    assert.match(error.message, /KAFKA_BROKERS: must be a comma-separated list of host:port/);
  });
});
