import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CONSUMER_PROPERTIES,
  KAFKAJS_GAPS,
  PRODUCER_PROPERTIES,
  toKafkajsConsumer,
  toKafkajsProducer,
  type ProducerProperties,
} from './client-settings.js';
import { CompressionTypes } from './kafkajs.js';

const producer = (change: Partial<ProducerProperties> = {}) => toKafkajsProducer({ ...PRODUCER_PROPERTIES, ...change });

describe('Kafka producer settings → kafkajs', () => {
  it('maps acks, idempotence, in-flight, retries and timeouts', () => {
    const mapped = producer({ 'max.in.flight.requests.per.connection': 3, retries: 7, 'request.timeout.ms': 12_345 });
    assert.deepEqual(mapped.producer, { idempotent: true, maxInFlightRequests: 3, retry: { retries: 7 } });
    assert.equal(mapped.send.acks, -1);
    assert.equal(mapped.send.timeout, 12_345);
    assert.equal(mapped.requestTimeout, 12_345);
    assert.equal(producer({ acks: '1', 'enable.idempotence': false }).send.acks, 1);
    assert.equal(producer({ acks: '0', 'enable.idempotence': false }).send.acks, 0);
    assert.equal(producer({ acks: '-1' }).send.acks, -1);
  });

  it('maps the codecs kafkajs can write and refuses the ones it cannot', () => {
    assert.equal(producer({ 'compression.type': 'snappy' }).send.compression, CompressionTypes.Snappy);
    assert.equal(producer({ 'compression.type': 'gzip' }).send.compression, CompressionTypes.GZIP);
    assert.equal(producer({ 'compression.type': 'none' }).send.compression, CompressionTypes.None);
    assert.throws(() => producer({ 'compression.type': 'lz4' }), /lz4 needs a kafkajs codec/);
    assert.throws(() => producer({ 'compression.type': 'zstd' }), /zstd needs a kafkajs codec/);
  });

  it('refuses the combinations the Java client refuses', () => {
    assert.throws(() => producer({ acks: '1' }), /requires acks=all/);
    assert.throws(() => producer({ retries: 0 }), /requires retries > 0/);
  });

  it("the project's defaults are what its producers rely on: acks from every replica, no duplicates, no reordering", () => {
    const mapped = toKafkajsProducer(PRODUCER_PROPERTIES);
    assert.equal(mapped.send.acks, -1);
    assert.equal(mapped.producer.idempotent, true);
    assert.equal(mapped.producer.maxInFlightRequests, 1);
    assert.ok((mapped.producer.retry?.retries ?? 0) > 0);
  });
});

describe('Kafka consumer settings → kafkajs', () => {
  it('maps fetch sizes, waits, session and heartbeat', () => {
    const mapped = toKafkajsConsumer({
      ...CONSUMER_PROPERTIES,
      'fetch.min.bytes': 11,
      'fetch.max.wait.ms': 22,
      'max.partition.fetch.bytes': 33,
      'fetch.max.bytes': 44,
      'session.timeout.ms': 9_000,
      'heartbeat.interval.ms': 2_000,
    });
    assert.deepEqual(mapped.consumer, {
      minBytes: 11,
      maxWaitTimeInMs: 22,
      maxBytesPerPartition: 33,
      maxBytes: 44,
      sessionTimeout: 9_000,
      heartbeatInterval: 2_000,
      readUncommitted: false,
    });
  });

  it('maps auto.offset.reset, isolation.level and enable.auto.commit', () => {
    const latest = toKafkajsConsumer({
      ...CONSUMER_PROPERTIES,
      'auto.offset.reset': 'latest',
      'isolation.level': 'read_uncommitted',
      'enable.auto.commit': true,
    });
    assert.equal(latest.subscribe.fromBeginning, false);
    assert.equal(latest.consumer.readUncommitted, true);
    assert.equal(latest.run.autoCommit, true);
    const defaults = toKafkajsConsumer(CONSUMER_PROPERTIES);
    assert.equal(defaults.subscribe.fromBeginning, true);
    assert.equal(defaults.consumer.readUncommitted, false);
    assert.equal(defaults.run.autoCommit, false, 'offsets commit after the handler, never on a timer');
  });

  it('refuses a heartbeat that is not shorter than the session, as kafkajs does', () => {
    assert.throws(
      () =>
        toKafkajsConsumer({ ...CONSUMER_PROPERTIES, 'heartbeat.interval.ms': 30_000, 'session.timeout.ms': 30_000 }),
      /heartbeat/,
    );
  });
});

describe('properties kafkajs has no option for', () => {
  it('each names a property we set and says what we do instead', () => {
    const known = new Set([...Object.keys(PRODUCER_PROPERTIES), ...Object.keys(CONSUMER_PROPERTIES)]);
    for (const gap of KAFKAJS_GAPS) {
      const names = gap.property.split(/[ ,=>]+/).filter((n) => /^[a-z]+(\.[a-z]+)+$/.test(n));
      assert.ok(names.length > 0 && names.every((n) => known.has(n)), `${gap.property} names a known property`);
      assert.ok(gap.instead.length > 40, `${gap.property} says what we do instead`);
    }
  });
});
