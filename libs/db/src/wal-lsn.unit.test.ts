import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLsn, replicaServes } from './wal-lsn.js';

describe('WAL positions as consistency tokens', () => {
  it('reads what Postgres prints: high and low 32 bits in hex, any case', () => {
    assert.equal(parseLsn('0/0'), 0n);
    assert.equal(parseLsn('0/16B3748'), 0x16b3748n);
    assert.equal(parseLsn('16/b374d848'), (0x16n << 32n) + 0xb374d848n);
    assert.equal(parseLsn('FFFFFFFF/FFFFFFFF'), 2n ** 64n - 1n);
  });

  it('orders by the high part first (a string comparison would not)', () => {
    const [a, b] = [parseLsn('9/FFFFFFFF'), parseLsn('A/0')];
    assert.ok(a !== undefined && b !== undefined && a < b);
    assert.ok((parseLsn('0/10') as bigint) > (parseLsn('0/9') as bigint));
  });

  it('refuses anything else', () => {
    for (const text of ['', '0', '0/', '/0', '0/0/0', 'G/0', '123456789/0', '0/123456789', ' 0/1', '0x1/2', null]) {
      assert.equal(parseLsn(text), undefined, String(text));
    }
  });

  it('a replica answers an untokened read; a tokened one only once it has replayed that far', () => {
    assert.equal(replicaServes(undefined, undefined), true, 'no token: any replica');
    assert.equal(replicaServes(undefined, 5n), true);
    assert.equal(replicaServes(10n, undefined), false, 'position unknown (not replaying): the primary');
    assert.equal(replicaServes(10n, 9n), false, 'behind the write');
    assert.equal(replicaServes(10n, 10n), true, 'replayed exactly to it');
    assert.equal(replicaServes(10n, 11n), true);
  });
});
