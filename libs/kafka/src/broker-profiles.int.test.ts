import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useTestContext } from '#test/harness/test-context.js';
import { REPO_ROOT } from '#test/support/processes.js';
import { readBrokerProfile } from './broker-profiles.js';
import { createKafka, openAdmin } from './kafka-client.js';
import { ConfigResourceTypes } from './kafkajs.js';

const ctx = useTestContext('broker-profiles');

describe('broker profiles against the running broker', () => {
  const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
  const admin = openAdmin(kafka, 'broker-profiles-test');

  /** The broker's own configuration: every config it defines, with its current value. */
  const brokerConfig = async () => {
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    const { brokers } = await admin.describeCluster();
    const nodeId = brokers[0]?.nodeId;
    assert.notEqual(nodeId, undefined);
    const { resources } = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.BROKER, name: String(nodeId) }],
      includeSynonyms: false,
    });
    const entries = resources[0]?.configEntries ?? [];
    assert.ok(entries.length > 100, `the broker lists its configs (${entries.length})`);
    return entries;
  };

  it('every key of both profiles is a config the broker defines, and the local broker runs the local values', async () => {
    const entries = await brokerConfig();
    // The broker also echoes unknown keys from its properties file, flagged sensitive with no value (it cannot tell
    // whether an unknown key is a password). None of our keys is a password, so a sensitive entry does not count.
    const defined = new Map(entries.filter((e) => !e.isSensitive).map((e) => [e.configName, e.configValue]));
    for (const profile of ['local', 'production'] as const) {
      const unknown = [...(await readBrokerProfile(REPO_ROOT, profile)).keys()].filter((k) => !defined.has(k));
      assert.deepEqual(unknown, [], `${profile}: keys the broker does not define`);
    }
    const local = await readBrokerProfile(REPO_ROOT, 'local');
    for (const [key, value] of local) {
      // @PORT@, @DATA_DIR@ and the like are filled in by infra/kafka/kafka.sh per machine.
      if (value.includes('@')) continue;
      assert.equal(defined.get(key), value, `the running broker's ${key}`);
    }
  });
});
