import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { Agent } from 'undici';
import { ApiKeysRepository } from '#libs/auth';
import { createPool } from '#libs/db';
import {
  createSchemaRegistry,
  readSchemaFiles,
  TopicNames,
  valueSubject,
  type EventCodec,
  type RunEvent,
} from '#libs/events';
import { createKafka, openProducer } from '#libs/kafka';
import { EVENT_CODEC } from '#libs/platform';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles } from '#test/support/app.js';
import { startTcpCut } from '#test/support/private/tcp-cut.js';
import { fanoutRole } from './fanout.role.js';
import { sseOpeners } from './sse-test-client.js';
import { TestEvents } from './test-events.js';

const ctx = useTestContext('feed-registry-outage');
const OUTAGE_MS = 5_000;
const EVENTS = 6;

describe('the fanout feed while the schema registry is unreachable', () => {
  it('holds the events it cannot decode yet and streams every one, 1..n in order, once the registry is back', async () => {
    await createTopics(ctx);
    const names = new TopicNames(ctx.topicPrefix);
    const registryUrl = new URL(ctx.config.SCHEMA_REGISTRY_URL);
    const relay = await startTcpCut(Number(registryUrl.port));
    ctx.defer(() => relay.close());
    // The fanout reaches the registry through a relay the test cuts. The recent window (a fallback that keeps raw
    // events for a while) is off, so whatever reaches the stream came through the live feed, not a later re-read.
    const fanout = await startRoles(ctx, [fanoutRole], {
      ...ctx.config,
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${relay.port}${registryUrl.pathname}`,
      FANOUT_RECENT_MS: 0,
    });
    await fanout.app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(fanout.app.getHttpServer().address() as AddressInfo).port}`;

    // The producers run a newer schema than the fanout registered at its start (an optional field more): its id is
    // not in the fanout's cache, so decoding their events has to ask the registry.
    const [runEventSchema] = (await readSchemaFiles()).filter((s) => s.name === 'run-event');
    const newer = runEventSchema?.schema as { fields: unknown[] };
    const registry = createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL);
    const { id: newerId } = await registry.register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify({
          ...newer,
          fields: [...newer.fields, { name: 'origin', type: ['null', 'string'], default: null }],
        }),
      },
      { subject: valueSubject(names.of('run.events')) },
    );

    const pool = createPool(ctx.databaseUrl, { name: 'feed-registry-outage' });
    ctx.defer(() => pool.end());
    const producer = openProducer(
      createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger }),
      'run-events',
    );
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    const keys = fanout.app.get(ApiKeysRepository);
    const workspaceId = await keys.createWorkspace('feed-outage');
    const readKey = (await keys.create(workspaceId, 'read')).key;
    // Only the run row: its events reach Kafka and never Postgres, so only the live feed can bring them.
    const run = await new TestEvents(pool, producer, fanout.app.get<EventCodec>(EVENT_CODEC)).createRun(workspaceId);

    const agent = new Agent();
    ctx.defer(() => agent.destroy());
    const { openStream } = sseOpeners({
      dispatcher: agent,
      defaultKey: () => readKey,
      defer: (cleanup) => ctx.defer(cleanup),
    });
    const stream = await openStream(base, `/v1/runs/${run.runId}/events`);

    await relay.cut();
    for (let seq = 1; seq <= EVENTS; seq++) {
      const event: RunEvent & { origin: string } = {
        eventId: randomUUID(),
        type: 'run.event',
        seq,
        occurredAt: Date.now(),
        workspaceId,
        runId: run.runId,
        workflowId: run.workflowId,
        kind: 'node.completed',
        status: 'succeeded',
        nodeId: `n${seq}`,
        detailJson: JSON.stringify({ seq }),
        origin: 'a newer producer',
      };
      await producer.send({
        topic: names.of('run.events'),
        messages: [{ key: run.runId, value: await registry.encode(newerId, event) }],
      });
    }
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    assert.deepEqual(stream.ids, [], 'nothing could be decoded while the registry was away');

    await relay.mend();
    await stream.waitForEvents(EVENTS, 20_000);
    assert.deepEqual(
      stream.ids,
      Array.from({ length: EVENTS }, (_, i) => i + 1),
    );
    assert.deepEqual(
      stream.data.map((d) => d.nodeId),
      Array.from({ length: EVENTS }, (_, i) => `n${i + 1}`),
    );
  });
});
