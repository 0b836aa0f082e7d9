import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOCAL_BOOTSTRAP_ADMIN_KEY } from '#libs/config';
import { isLoopbackHost } from '#libs/platform';
import { bootstrapKeyRefusal, refusesPresentedKey } from './bootstrap-key.js';

describe('the local bootstrap admin key off loopback', () => {
  it('tells loopback hosts from the rest', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'api.internal', '192.168.1.2']) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });

  it('refuses to start with the default key on a non-loopback HOST, naming both variables', () => {
    const refusal = bootstrapKeyRefusal({ HOST: '0.0.0.0', BOOTSTRAP_ADMIN_KEY: LOCAL_BOOTSTRAP_ADMIN_KEY });
    assert.match(refusal ?? '', /BOOTSTRAP_ADMIN_KEY .* HOST \(0\.0\.0\.0\)/);
    assert.equal(bootstrapKeyRefusal({ HOST: '127.0.0.1', BOOTSTRAP_ADMIN_KEY: LOCAL_BOOTSTRAP_ADMIN_KEY }), undefined);
    assert.equal(bootstrapKeyRefusal({ HOST: '0.0.0.0', BOOTSTRAP_ADMIN_KEY: 'a-secret-of-my-own-1234' }), undefined);
    assert.equal(bootstrapKeyRefusal({ HOST: '0.0.0.0', BOOTSTRAP_ADMIN_KEY: '' }), undefined);
  });

  it('refuses the presented default key off loopback only', () => {
    assert.equal(refusesPresentedKey('0.0.0.0', LOCAL_BOOTSTRAP_ADMIN_KEY), true);
    assert.equal(refusesPresentedKey('127.0.0.1', LOCAL_BOOTSTRAP_ADMIN_KEY), false);
    assert.equal(refusesPresentedKey('0.0.0.0', 'ok_other'), false);
  });
});
