import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  createSchemaRegistry,
  envelope,
  EventCodec,
  readSchemaFiles,
  TopicNames,
  type RunStateRecord,
} from '#libs/events';
import { createKafka, openProducer } from '#libs/kafka';
import { createLogger } from '#libs/observability';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics } from '#test/support/app.js';
import { startTcpCut } from '#test/support/private/tcp-cut.js';
import { restoreChangelog } from './changelog-restore.js';

const ctx = useTestContext('changelog-restore');
/** As long as the fault suite's outages. */
const OUTAGE_MS = 8_000;

/** A logger whose lines the test reads back. */
function recordingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as never);
      done();
    },
  });
  return { lines, logger: createLogger({ component: 'restore-test' }, 'warn', sink) };
}

const record = (runId: string, seq: number): RunStateRecord => ({
  ...envelope(seq, randomUUID()),
  occurredAt: Date.now(),
  type: 'run.state',
  runId,
  workflowId: randomUUID(),
  workflowVersion: 1,
  tag: null,
  inputJson: '{}',
  inputRef: null,
  permission: null,
  requestedAt: Date.now(),
  stateJson: JSON.stringify({ seq }),
  stateRef: null,
  effectsJson: '[]',
  effectsRef: null,
});

describe('the changelog restore while the schema registry is unreachable', () => {
  it('waits for the registry and restores every run once it is back, instead of failing', async () => {
    await createTopics(ctx);
    const names = new TopicNames(ctx.topicPrefix);
    const schemas = await readSchemaFiles();
    const writer = new EventCodec(createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL), names, schemas);
    await writer.registerAll();
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    const producer = openProducer(kafka, 'changelog');
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    const runs = Array.from({ length: 12 }, () => randomUUID());
    const written = runs.map((runId, i) => record(runId, i + 1));
    await producer.send({
      topic: names.of('run.state'),
      messages: await Promise.all(written.map((r) => writer.message('run.state', r.runId, r))),
    });

    // The coordinator's registry is behind a relay the test cuts: to it, the registry is stopped.
    const registryUrl = new URL(ctx.config.SCHEMA_REGISTRY_URL);
    const relay = await startTcpCut(Number(registryUrl.port));
    ctx.defer(() => relay.close());
    await relay.cut();
    // A codec of its own, as after a restart: the changelog's schema id is not in its cache, so decoding asks.
    const reader = new EventCodec(
      createSchemaRegistry(`http://127.0.0.1:${relay.port}${registryUrl.pathname}`, 1_000),
      names,
      schemas,
    );
    const { lines, logger } = recordingLogger();
    const started = Date.now();
    const restoring = restoreChangelog(
      {
        kafka: createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: `${ctx.id}-restore`, logger }),
        codec: reader,
        logger,
        timeoutMs: 60_000,
      },
      [0, 1, 2],
    );
    let settled: string | undefined;
    restoring.then(
      () => (settled = 'restored'),
      (error: Error) => (settled = `failed: ${error.message}`),
    );
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    assert.equal(settled, undefined, 'the restore waits while the registry is away');
    await relay.mend();
    const restored = await restoring;
    const back = Date.now();

    const byRun = new Map([...restored.values()].flatMap((partition) => [...partition]));
    assert.deepEqual(
      [...byRun.keys()].sort(),
      [...runs].sort(),
      'every run of the changelog is restored, none skipped',
    );
    for (const r of written) assert.equal(byRun.get(r.runId)?.stateJson, r.stateJson);
    assert.ok(back - started >= OUTAGE_MS);
    // The outage is expected and handled: a warning or two, not an error (with its stack) per try.
    assert.deepEqual(
      lines.filter((l) => l.level === 'error').map((l) => l.msg),
      [],
      'no error lines for a registry outage',
    );
    assert.ok(lines.length <= 3, `at most a few warnings, got ${lines.length}: ${JSON.stringify(lines)}`);
  });
});
