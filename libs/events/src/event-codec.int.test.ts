import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import { applyTopics, createKafka, openAdmin, openConsumer, openProducer } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { createSchemaRegistry, EventCodec, valueSubject } from './event-codec.js';
import { TopicNames } from './topic-contract.js';
import type { PatchCreated } from './generated/event-types.js';
import { readSchemaFiles } from './schema-files.js';

const ctx = useTestContext('event-codec');
const schemaFiles = await readSchemaFiles();

describe('events through Kafka and the Schema Registry', () => {
  const registry = createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL);
  const codec = new EventCodec(registry, new TopicNames(ctx.topicPrefix), schemaFiles);
  const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });

  it('registers a subject per topic with BACKWARD compatibility, idempotently', async () => {
    const admin = openAdmin(kafka, 'codec-admin');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    await applyTopics(admin, ctx.topics);

    const first = await codec.registerAll();
    const again = await codec.registerAll();
    assert.deepEqual(again, first, 'registering unchanged schemas returns the same ids');
    const subject = valueSubject(ctx.topic('patch.created').name);
    assert.ok(first.some((r) => r.subject === subject));
    const config = (await (await fetch(`${ctx.config.SCHEMA_REGISTRY_URL}/config/${subject}`)).json()) as {
      compatibilityLevel: string;
    };
    assert.equal(config.compatibilityLevel, 'BACKWARD');
  });

  it('two services registering the same new subjects at once both succeed, with the same ids', async () => {
    // Fresh subjects (no compatibility rule yet): both services try to create the rule; one of them loses that race.
    const names = new TopicNames(`${ctx.topicPrefix}race.`);
    const [a, b] = await Promise.all([
      new EventCodec(createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL), names, schemaFiles).registerAll(),
      new EventCodec(createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL), names, schemaFiles).registerAll(),
    ]);
    assert.ok(a.length > 0);
    assert.deepEqual(b, a);
  });

  it('an event produced with kafkajs is consumed and decoded into the same typed object', async () => {
    const topic = ctx.topic('patch.created').name;
    const event: PatchCreated = {
      eventId: randomUUID(),
      type: 'patch.created',
      seq: 42,
      occurredAt: Date.now(),
      workspaceId: 'ws-1',
      workflowId: 'wf-1',
      patchId: randomUUID(),
      opsJson: JSON.stringify([{ op: 'add', path: '/nodes/x', value: { type: 'function' } }]),
      idempotencyKey: null,
    };
    const value = await codec.encode('patch.created', event);
    assert.equal(value[0], 0, 'Confluent wire format starts with magic byte 0');

    const producer = openProducer(kafka, 'codec-producer', { idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    await producer.send({ topic, messages: [{ key: event.workflowId, value }] });

    const consumer = openConsumer(kafka, { groupId: ctx.group('codec') });
    await consumer.connect();
    ctx.defer(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key: string; decoded: unknown }>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            resolve({ key: message.key?.toString() ?? '', decoded: await codec.decode(message.value as Buffer) });
          },
        })
        .catch(reject);
    });
    assert.equal(received.key, 'wf-1');
    // avsc hands back an instance of a generated record class; its fields are what must match.
    assert.deepEqual({ ...codec.parse('patch-created', received.decoded) }, event);
    assert.throws(() => codec.parse('run-requested', received.decoded), /not a valid run-requested event/);
  });

  it('an event of another topic is refused at compile time, and a message of another schema when decoded', async () => {
    const event: PatchCreated = {
      eventId: randomUUID(),
      type: 'patch.created',
      seq: 1,
      occurredAt: Date.now(),
      workspaceId: 'ws-1',
      workflowId: 'wf-1',
      patchId: randomUUID(),
      opsJson: '[]',
      idempotencyKey: null,
    };
    // @ts-expect-error the contract types each topic's events: a patch.created event is no run.requested one
    const wrong = () => codec.encode('run.requested', event);
    assert.equal(typeof wrong, 'function');
    const value = await codec.encode('patch.created', event);
    await assert.rejects(codec.decodeAs('run.requested', value), /not a valid run-requested event/);
    assert.deepEqual({ ...(await codec.decodeAs('patch.created', value)) }, event);
  });

  it("encodes every event byte for byte as the registry client does, and a value that does not fit with the client's error", async () => {
    await codec.registerAll();
    const name = ctx.topic('patch.created').name;
    const id = await registry.getLatestSchemaId(valueSubject(name));
    // Small, then past Node's pooled size (the buffer is guessed from the last event), then small again.
    for (const opsBytes of [2, 300, 20_000, 40, 5_000, 10]) {
      const event: PatchCreated = {
        eventId: randomUUID(),
        type: 'patch.created',
        seq: opsBytes,
        occurredAt: Date.now(),
        workspaceId: 'ws-1',
        workflowId: 'wf-1',
        patchId: randomUUID(),
        opsJson: JSON.stringify('x'.repeat(opsBytes)),
        idempotencyKey: opsBytes % 2 ? 'key' : null,
      };
      assert.deepEqual(await codec.encode('patch.created', event), await registry.encode(id, event), `${opsBytes}`);
    }
    const unfit = { type: 'patch.created', seq: 'not a number' } as unknown as PatchCreated;
    await assert.rejects(codec.encode('patch.created', unfit), { name: 'ConfluentSchemaRegistryValidationError' });
  });

  it('the registry refuses an incompatible change and accepts a compatible one', async () => {
    const subject = valueSubject(ctx.topic('run.requested').name);
    const current = schemaFiles.find((s) => s.name === 'run-requested')?.schema as {
      fields: object[];
    };
    const withField = (field: object) => JSON.stringify({ ...current, fields: [...current.fields, field] });

    // A new field without a default: readers of the new schema cannot read old data.
    await assert.rejects(
      registry.register(
        { type: SchemaType.AVRO, schema: withField({ name: 'priority', type: 'int' }) },
        { subject, compatibility: COMPATIBILITY.BACKWARD },
      ),
      (error: Error) => {
        assert.match(error.message, /incompatible/i);
        return true;
      },
    );
    const latestBefore = await registry.getLatestSchemaId(subject);
    const compatible = await registry.register(
      { type: SchemaType.AVRO, schema: withField({ name: 'priority', type: 'int', default: 0 }) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    assert.notEqual(compatible.id, latestBefore);
    assert.equal(await registry.getLatestSchemaId(subject), compatible.id);
  });

  it('reads events written before the node result cache fields, which the registry takes as BACKWARD compatible', async () => {
    // The schemas as they were before the fields of the node result cache (permission, cache, cached) were added.
    const added = new Set(['permission', 'cache', 'cached']);
    const before = schemaFiles.map((file) => {
      const schema = file.schema as { fields: { name: string }[] };
      return { ...file, schema: { ...schema, fields: schema.fields.filter((f) => !added.has(f.name)) } };
    });
    const names = new TopicNames(`${ctx.topicPrefix}evolve.`);
    const old = new EventCodec(createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL), names, before);
    await old.registerAll();
    const requested = await old.encode('run.requested', {
      ...{ eventId: randomUUID(), seq: 1, occurredAt: Date.now(), workspaceId: 'ws-1' },
      type: 'run.requested',
      runId: 'run-1',
      workflowId: 'wf-1',
      workflowVersion: 1,
      inputJson: '{}',
      tag: null,
      inputRef: null,
    } as never);

    const current = new EventCodec(createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL), names, schemaFiles);
    await current.registerAll();
    const decoded = await current.decodeAs('run.requested', requested);
    assert.equal(decoded.runId, 'run-1');
    // Decoded with the schema it was written with: the new field is absent, which readers take as null.
    assert.equal(decoded.permission ?? null, null);
    const fresh = await current.decodeAs(
      'run.requested',
      await current.encode('run.requested', { ...decoded, permission: 'admin' }),
    );
    assert.equal(fresh.permission, 'admin');
  });
});
