import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

/**
 * The patched kafkajs transaction manager (patches/kafkajs+2.2.4.patch) against a stand-in cluster: when it keeps the
 * transaction coordinator it found and when it looks it up again. The happy path on a real broker is in
 * transaction-coordinator.int.test.ts.
 */
const require = createRequire(import.meta.url);
type Request = (args: unknown) => Promise<unknown>;
interface EosManager {
  initProducerId(): Promise<void>;
  beginTransaction(): void;
  addPartitionsToTransaction(topics: { topic: string; partitions: { partition: number }[] }[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}
const createEosManager = require('kafkajs/src/producer/eosManager/index.js') as (options: object) => EosManager;
const { KafkaJSProtocolError, KafkaJSConnectionError } = require('kafkajs') as {
  KafkaJSProtocolError: new (e: object) => Error;
  KafkaJSConnectionError: new (message: string) => Error;
};
const protocolError = (type: string, code: number) => new KafkaJSProtocolError({ type, code, message: type });

/** A broker whose transaction requests answer with the next queued error, if any. */
class StandInBroker {
  connected = true;
  readonly failures: Error[] = [];
  readonly requests: string[] = [];
  constructor(readonly name: string) {}
  isConnected = () => this.connected;
  private answer(api: string): Request {
    return () => {
      this.requests.push(api);
      const failure = this.failures.shift();
      if (failure) return Promise.reject(failure);
      return Promise.resolve(api === 'initProducerId' ? { producerId: 7, producerEpoch: 0 } : {});
    };
  }
  initProducerId = this.answer('initProducerId');
  addPartitionsToTxn = this.answer('addPartitionsToTxn');
  endTxn = this.answer('endTxn');
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function standIn(...coordinators: StandInBroker[]) {
  const lookups: string[] = [];
  let current = 0;
  const cluster = {
    retry: { retries: 0 },
    refreshMetadataIfNecessary: async () => {},
    findGroupCoordinator: () => {
      const broker = coordinators[Math.min(current, coordinators.length - 1)] as StandInBroker;
      lookups.push(broker.name);
      return Promise.resolve(broker);
    },
  };
  const eos = createEosManager({ logger: silent, cluster, transactional: true, transactionalId: 'p0' });
  return { eos, lookups, moveTo: (index: number) => (current = index) };
}

const transaction = async (eos: EosManager) => {
  eos.beginTransaction();
  try {
    await eos.addPartitionsToTransaction([{ topic: 't', partitions: [{ partition: 0 }] }]);
    await eos.commit();
  } catch (error) {
    await eos.abort().catch(() => undefined);
    throw error;
  }
};

describe('the patched kafkajs transaction manager and its coordinator', () => {
  it('looks the coordinator up once for any number of transactions', async () => {
    const a = new StandInBroker('a');
    const { eos, lookups } = standIn(a);
    await eos.initProducerId();
    for (let i = 0; i < 3; i += 1) await transaction(eos);
    assert.deepEqual(lookups, ['a']);
    const perTransaction = ['addPartitionsToTxn', 'endTxn'];
    assert.deepEqual(a.requests, ['initProducerId', ...perTransaction, ...perTransaction, ...perTransaction]);
  });

  it('keeps it when it answers CONCURRENT_TRANSACTIONS or a fenced epoch: the coordinator is right', async () => {
    const a = new StandInBroker('a');
    const { eos, lookups } = standIn(a);
    await eos.initProducerId();
    a.failures.push(protocolError('CONCURRENT_TRANSACTIONS', 51));
    await assert.rejects(transaction(eos), /CONCURRENT_TRANSACTIONS/);
    a.failures.push(protocolError('INVALID_PRODUCER_EPOCH', 47));
    await assert.rejects(transaction(eos), /INVALID_PRODUCER_EPOCH/);
    await transaction(eos);
    assert.deepEqual(lookups, ['a']);
  });

  for (const [what, failure] of [
    ['NOT_COORDINATOR', () => protocolError('NOT_COORDINATOR_FOR_GROUP', 16)],
    ['COORDINATOR_NOT_AVAILABLE', () => protocolError('GROUP_COORDINATOR_NOT_AVAILABLE', 15)],
    ['a network error', () => new KafkaJSConnectionError('Connection error: ECONNRESET')],
  ] as const) {
    it(`looks it up again after ${what}, and sends the next request to the new one`, async () => {
      const a = new StandInBroker('a');
      const b = new StandInBroker('b');
      const { eos, lookups, moveTo } = standIn(a, b);
      await eos.initProducerId();
      await transaction(eos);
      moveTo(1);
      a.failures.push(failure());
      await assert.rejects(transaction(eos));
      await transaction(eos);
      assert.deepEqual(lookups, ['a', 'b']);
      assert.deepEqual(b.requests, ['addPartitionsToTxn', 'endTxn']);
    });
  }

  it('looks it up again when its connection is gone', async () => {
    const a = new StandInBroker('a');
    const b = new StandInBroker('b');
    const { eos, lookups, moveTo } = standIn(a, b);
    await eos.initProducerId();
    moveTo(1);
    a.connected = false;
    await transaction(eos);
    assert.deepEqual(lookups, ['a', 'b']);
    assert.deepEqual(a.requests, ['initProducerId']);
  });
});
