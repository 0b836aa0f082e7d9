import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { encodeProduceRequest, TRACE_HEADERS } from '#test/support/kafkajs-requests.js';

/**
 * The patched kafkajs Encoder (patches/kafkajs+2.2.4.patch, protocol/encoder.js) takes its buffers unfilled from
 * Node's pool instead of a zero-filled ArrayBuffer each (bench/encoding.bench.ts: 2-3x less CPU per request).
 * Safe only while no byte it did not write reaches a request: checked by encoding the same request over pool memory
 * full of two different garbage patterns.
 */
const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => { buf: Buffer };

const request = () =>
  encodeProduceRequest(
    [0, 1].map((partition) => ({
      topic: 'run.events',
      partition,
      records: Array.from({ length: 5 }, (_, i) => ({
        key: `run-${partition}-${i}`,
        value: Buffer.from(`value ${i} `.repeat(40 * (i + 1))),
        headers: TRACE_HEADERS,
        timestamp: 1_764_000_000_000 + i,
      })),
    })),
  );

/** Leaves the pool's current chunk, and the heap's freed memory, full of `byte`. */
function soil(byte: number): void {
  for (let i = 0; i < 64; i++) Buffer.allocUnsafe(Buffer.poolSize >>> 2).fill(byte);
  for (let i = 0; i < 64; i++) Buffer.allocUnsafe(64 * 1024).fill(byte);
}

describe('kafkajs Encoder allocation (patched)', () => {
  it('takes its buffer from the shared pool, not an ArrayBuffer of its own', () => {
    const encoder = new Encoder();
    assert.ok(encoder.buf.length >= 512);
    assert.equal(encoder.buf.buffer.byteLength, Buffer.poolSize, 'stock kafkajs allocates 512 zeroed bytes alone');
  });

  it('encodes the same bytes whatever the memory it was given held', async () => {
    soil(0x00);
    const overZeros = Buffer.from(await request());
    soil(0xff);
    const overOnes = Buffer.from(await request());
    soil(0x5a);
    const overPattern = Buffer.from(await request());
    assert.ok(overZeros.length > 2_000);
    assert.deepEqual(overOnes, overZeros);
    assert.deepEqual(overPattern, overZeros);
  });
});
