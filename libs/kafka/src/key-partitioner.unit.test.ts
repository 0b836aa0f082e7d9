import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { Partitioners } from './kafkajs.js';
import { KeyPartitioner, murmur2, partitionOfKey } from './key-partitioner.js';

const metadata = (count: number, leaderless: number[] = []) =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));

describe('key partitioner', () => {
  it("hashes as Java's Utils.murmur2 (the vectors of Kafka's UtilsTest)", () => {
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of cases) assert.equal(murmur2(Buffer.from(key)), hash, key);
  });

  it("puts every key where kafkajs' DefaultPartitioner does", () => {
    for (let i = 0; i < 20_000; i++) {
      const count = 1 + randomInt(64);
      const key =
        i % 3 === 0 ? randomBytes(randomInt(40)) : i % 3 === 1 ? crypto.randomUUID() : `ключ-${randomInt(1e9)}-é`;
      const partitionMetadata = metadata(count);
      const message = { key, value: null };
      const expected = Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata, message });
      assert.equal(KeyPartitioner()({ topic: 't', partitionMetadata, message }), expected, String(key));
      assert.equal(partitionOfKey(key, count), expected);
    }
  });

  it('keeps an explicit partition and deals keyless messages round robin over partitions with a leader', () => {
    const partition = KeyPartitioner();
    const partitionMetadata = metadata(4, [1]);
    assert.equal(partition({ topic: 't', partitionMetadata, message: { key: 'k', value: null, partition: 3 } }), 3);
    const seen = Array.from({ length: 6 }, () =>
      partition({ topic: 't', partitionMetadata, message: { value: null } }),
    );
    assert.deepEqual(new Set(seen), new Set([0, 2, 3]));
    assert.equal(seen[0], seen[3], 'every third message lands on the same partition');
  });
});
