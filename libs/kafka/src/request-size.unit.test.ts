import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkByBytes, messageBytes } from './request-size.js';

describe('request sizes', () => {
  it('counts key, value and headers with some framing', () => {
    const bare = messageBytes({ key: null, value: null });
    assert.equal(messageBytes({ key: 'k', value: Buffer.alloc(10) }), bare + 11);
    assert.ok(
      messageBytes({ key: 'k', value: 'v', headers: { a: 'bc' } }) > messageBytes({ key: 'k', value: 'v' }) + 3,
    );
  });

  it('splits in order under the limit, an oversized item alone', () => {
    const sizes = [4, 4, 4, 12, 1, 9, 1];
    const chunks = chunkByBytes(sizes, (n) => n, 10);
    assert.deepEqual(chunks, [[4, 4], [4], [12], [1, 9], [1]]);
    assert.deepEqual(chunks.flat(), sizes, 'nothing lost or reordered');
    assert.deepEqual(
      chunkByBytes([], (n: number) => n, 10),
      [],
    );
  });
});
