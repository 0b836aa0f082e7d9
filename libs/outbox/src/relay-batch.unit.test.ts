import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { takeWithinBytes, toTopicMessages, type ClaimedRow } from './relay-batch.js';

const row = (id: number, topic: string, key: string, bytes = 10): ClaimedRow => ({
  id: String(id),
  topic,
  key,
  payload: Buffer.alloc(bytes, id),
  headers: { seq: String(id) },
});

describe('toTopicMessages', () => {
  it('groups by topic and keeps id order inside each topic', () => {
    const rows = [row(1, 'a', 'k1'), row(2, 'b', 'k1'), row(3, 'a', 'k2'), row(4, 'a', 'k1'), row(5, 'b', 'k3')];
    const messages = toTopicMessages(rows);
    assert.deepEqual(
      messages.map((t) => [t.topic, t.messages.map((m) => m.headers?.seq)]),
      [
        ['a', ['1', '3', '4']],
        ['b', ['2', '5']],
      ],
    );
    const first = messages[0]?.messages[0];
    assert.equal(first?.key, 'k1');
    assert.ok(Buffer.isBuffer(first?.value));
    assert.deepEqual(first?.value, rows[0]?.payload);
  });
});

describe('takeWithinBytes', () => {
  it('drops a tail once the bytes would exceed the limit', () => {
    const rows = [1, 2, 3, 4].map((id) => row(id, 't', 'k', 95));
    // 100 bytes a row: 95 payload, 1 key, 4 header ("seq" and one digit).
    assert.equal(takeWithinBytes(rows, 250).length, 2);
    assert.equal(takeWithinBytes(rows, 400).length, 4);
  });

  it('always keeps the first row, even when it alone is over the limit', () => {
    assert.equal(takeWithinBytes([row(1, 't', 'k', 5000), row(2, 't', 'k')], 100).length, 1);
  });
});
