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

  it('keeps finished runs by default and refuses retention windows too short to be safe', () => {
    const config = loadConfig({});
    assert.equal(config.RUN_RETENTION_MS, 0);
    assert.equal(config.CAS_GC_GRACE_MS, 604_800_000);
    assert.equal(config.IDEMPOTENCY_KEY_TTL_MS, 604_800_000);
    assert.equal(loadConfig({ RETENTION_INTERVAL_MS: '0', CAS_GC_GRACE_MS: '0' }).CAS_GC_GRACE_MS, 0);
    assert.throws(
      () => loadConfig({ CAS_GC_GRACE_MS: '60000', RUN_RETENTION_MS: '3600000' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems
          .map((p) => p.variable)
          .sort()
          .join() === 'CAS_GC_GRACE_MS,RUN_RETENTION_MS',
    );
  });

  it('turns the HTTP runtime settings on by default, h2c off, one process', () => {
    const config = loadConfig({});
    assert.equal(config.HTTP_NO_DELAY, true);
    assert.equal(config.HTTP_TCP_KEEPALIVE, true);
    assert.equal(config.HTTP_TCP_KEEPALIVE_DELAY_MS, 60_000);
    assert.equal(config.HTTP_KEEP_ALIVE_TIMEOUT_MS, 65_000);
    assert.equal(config.HTTP_H2C, false);
    assert.equal(config.HTTP_PROCESSES, 1);
    assert.equal(config.FD_LIMIT_MIN, 65_536);
  });

  it('parses the HTTP runtime settings', () => {
    const config = loadConfig({
      HTTP_NO_DELAY: 'false',
      HTTP_TCP_KEEPALIVE: 'false',
      HTTP_TCP_KEEPALIVE_DELAY_MS: '30000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '0',
      HTTP_PROCESSES: '4',
      FD_LIMIT_MIN: '0',
    });
    assert.equal(config.HTTP_NO_DELAY, false);
    assert.equal(config.HTTP_TCP_KEEPALIVE, false);
    assert.equal(config.HTTP_TCP_KEEPALIVE_DELAY_MS, 30_000);
    assert.equal(config.HTTP_KEEP_ALIVE_TIMEOUT_MS, 0);
    assert.equal(config.HTTP_PROCESSES, 4);
    assert.equal(config.FD_LIMIT_MIN, 0);
    assert.equal(loadConfig({ HTTP_H2C: 'true' }).HTTP_H2C, true);
  });

  it('names each bad HTTP runtime setting', () => {
    const error = (() => {
      try {
        loadConfig({
          HTTP_NO_DELAY: 'yes',
          HTTP_TCP_KEEPALIVE_DELAY_MS: '10',
          HTTP_PROCESSES: '0',
          HTTP_KEEP_ALIVE_TIMEOUT_MS: '-1',
          FD_LIMIT_MIN: 'lots',
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems.map((p) => p.variable).sort(), [
      'FD_LIMIT_MIN',
      'HTTP_KEEP_ALIVE_TIMEOUT_MS',
      'HTTP_NO_DELAY',
      'HTTP_PROCESSES',
      'HTTP_TCP_KEEPALIVE_DELAY_MS',
    ]);
    assert.match(error.message, /HTTP_NO_DELAY: must be true or false/);
  });

  it('refuses HTTP keep-alive off together with h2c', () => {
    assert.throws(
      () => loadConfig({ HTTP_H2C: 'true', HTTP_KEEP_ALIVE_TIMEOUT_MS: '0' }),
      /HTTP_KEEP_ALIVE_TIMEOUT_MS: cannot be 0 \(keep-alive off\) with HTTP_H2C=true/,
    );
    assert.equal(loadConfig({ HTTP_H2C: 'true', HTTP_KEEP_ALIVE_TIMEOUT_MS: '5000' }).HTTP_H2C, true);
  });

  it('needs LLM_BASE_URL for an agent worker, and takes agent as a worker type with it', () => {
    assert.throws(
      () => loadConfig({ WORKER_TYPES: 'function,agent' }),
      /LLM_BASE_URL: is required when WORKER_TYPES includes agent/,
    );
    const config = loadConfig({ WORKER_TYPES: 'agent', LLM_BASE_URL: 'http://127.0.0.1:11434/v1', LLM_API_KEY: 'k' });
    assert.deepEqual(config.WORKER_TYPES, ['agent']);
    assert.equal(config.AGENT_TIMEOUT_MS, 120_000);
    assert.throws(() => loadConfig({ LLM_BASE_URL: 'ftp://x' }), /LLM_BASE_URL/);
  });

  it("reads token prices per model for the cache's cost saved, naming every bad price", () => {
    assert.equal(loadConfig({}).CACHE_TOKEN_PRICES.size, 0);
    const prices = loadConfig({
      CACHE_TOKEN_PRICES: '{"gpt-4o-mini": {"promptPerMillion": 0.15, "completionPerMillion": 0.6}}',
    }).CACHE_TOKEN_PRICES;
    assert.deepEqual(prices.get('gpt-4o-mini'), { promptPerMillion: 0.15, completionPerMillion: 0.6 });
    const problems = (text: string) => {
      try {
        loadConfig({ CACHE_TOKEN_PRICES: text });
      } catch (error) {
        return (error as ConfigError).problems.map((p) => `${p.variable}: ${p.message}`);
      }
      return [];
    };
    assert.equal(problems('[').length, 1);
    assert.deepEqual(problems('[]'), [
      'CACHE_TOKEN_PRICES: must be a JSON object of model → {promptPerMillion, completionPerMillion}',
    ]);
    assert.deepEqual(problems('{"a": {"promptPerMillion": -1, "completionPerMillion": "2", "per": 1}, "b": 3}'), [
      'CACHE_TOKEN_PRICES: "a": unknown setting "per"; "a".promptPerMillion: must be a number ≥ 0; ' +
        '"a".completionPerMillion: must be a number ≥ 0; "b": must be an object {promptPerMillion, completionPerMillion}',
    ]);
  });

  it('turns the node result cache on with every detector, and validates its policies and patterns', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.CACHE_ENABLED, true);
    assert.equal(defaults.CACHE_REDIS_URL, undefined);
    assert.deepEqual(defaults.CACHE_SENSITIVE_DETECTORS, [
      'email',
      'card_number',
      'jwt',
      'api_key',
      'aws_access_key',
      'private_key',
      'bearer_token',
    ]);
    assert.deepEqual(defaults.CACHE_SENSITIVE_PATTERNS, []);
    assert.equal(defaults.CACHE_WORKSPACE_POLICIES.size, 0);

    const ws = '0f8fad5b-d9cb-469f-a165-70867728950e';
    const config = loadConfig({
      CACHE_ENABLED: 'false',
      CACHE_WORKSPACE_POLICIES: JSON.stringify({ [ws.toUpperCase()]: { enabled: true, ttlMs: { http_request: 0 } } }),
      CACHE_SENSITIVE_DETECTORS: 'email, jwt',
      CACHE_SENSITIVE_PATTERNS: '["ACME-[0-9]{6}"]',
    });
    assert.equal(config.CACHE_ENABLED, false);
    assert.deepEqual(config.CACHE_WORKSPACE_POLICIES.get(ws), { enabled: true, ttlMs: { http_request: 0 } });
    assert.deepEqual(config.CACHE_SENSITIVE_DETECTORS, ['email', 'jwt']);
    assert.deepEqual(loadConfig({ CACHE_SENSITIVE_DETECTORS: 'none' }).CACHE_SENSITIVE_DETECTORS, []);
    assert.deepEqual(config.CACHE_SENSITIVE_PATTERNS, ['ACME-[0-9]{6}']);

    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        return (error as ConfigError).problems.map((p) => `${p.variable}: ${p.message}`);
      }
      return [];
    };
    assert.deepEqual(problems({ CACHE_WORKSPACE_POLICIES: '{' }).length, 1);
    assert.deepEqual(
      problems({
        CACHE_WORKSPACE_POLICIES: JSON.stringify({
          'not-a-uuid': {},
          [ws]: { enabled: 'no', ttlMs: { hitl: 1, agent: -1 }, extra: 1 },
        }),
      }),
      [
        'CACHE_WORKSPACE_POLICIES: "not-a-uuid" is not a workspace id (a uuid); ' +
          `${ws}: unknown setting "extra"; ${ws}.enabled: must be true or false; ` +
          `${ws}.ttlMs: "hitl" is not one of function, http_request, agent; ` +
          `${ws}.ttlMs.agent: must be an integer from 0 (off) to 2592000000`,
      ],
    );
    assert.deepEqual(problems({ CACHE_SENSITIVE_DETECTORS: 'email,ssn' }), [
      'CACHE_SENSITIVE_DETECTORS: unknown detector ssn (known: email, card_number, jwt, api_key, aws_access_key, private_key, bearer_token; or none)',
    ]);
    assert.match(
      problems({ CACHE_SENSITIVE_PATTERNS: '["(a)\\\\1"]' }).join(),
      /CACHE_SENSITIVE_PATTERNS: not valid RE2/,
    );
    assert.match(problems({ CACHE_SENSITIVE_PATTERNS: '"x"' }).join(), /must be a JSON array/);
  });
});
