import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricsRefusal } from './metrics-access.js';

describe('metricsRefusal', () => {
  it('leaves /metrics open on loopback when no token is set', () => {
    assert.equal(metricsRefusal({ HOST: '127.0.0.1' }, undefined), undefined);
  });

  it('closes /metrics off loopback without a token, naming METRICS_TOKEN', () => {
    const refusal = metricsRefusal({ HOST: '0.0.0.0' }, undefined);
    assert.equal(refusal?.code, 'forbidden');
    assert.match(refusal?.detail ?? '', /METRICS_TOKEN/);
  });

  it('needs the token as a Bearer credential once it is set, anywhere', () => {
    for (const HOST of ['0.0.0.0', '127.0.0.1']) {
      const config = { HOST, METRICS_TOKEN: 'scrape-secret-123' };
      assert.equal(metricsRefusal(config, 'Bearer scrape-secret-123'), undefined);
      assert.equal(metricsRefusal(config, 'Bearer wrong')?.code, 'unauthenticated');
      assert.equal(metricsRefusal(config, undefined)?.code, 'unauthenticated');
    }
  });
});
