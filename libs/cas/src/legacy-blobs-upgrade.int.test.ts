import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import avro from 'avsc';
import { createPool, dropDatabase, migrate, MIGRATIONS_DIR, readMigrations, withDatabase, type Pool } from '#libs/db';
import { SCHEMAS_DIR } from '#libs/events';
import { retentionJobs, runDueJobs } from '#libs/retention';
import { useTestContext } from '#test/harness/test-context.js';
import { ContentStore } from './content-store.js';

/**
 * Upgrading a live database across migration 0010, which made content-addressed blobs per workspace: a database at
 * the schema before it, holding blobs in the old (global) layout referenced from every place the system keeps
 * references, is migrated to the end; every reference must then resolve in the workspace it belongs to, and in no
 * other.
 */
const ctx = useTestContext('cas-upgrade');
const DAY = 86_400_000;

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const refOf = (text: string) => `sha256:${sha(text)}`;

/** A folder holding the migrations up to `version` (inclusive). */
async function migrationsUpTo(version: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cas-upgrade-'));
  for (const m of await readMigrations(MIGRATIONS_DIR)) {
    if (m.version <= version) await copyFile(join(MIGRATIONS_DIR, m.name), join(dir, m.name));
  }
  return dir;
}

/** run.requested as the API encodes it into the outbox (Confluent wire format: magic 0, schema id, Avro). */
async function runRequestedCodec(withInputRef: boolean) {
  const schema = JSON.parse(await readFile(join(SCHEMAS_DIR, 'run-requested.avsc'), 'utf8')) as {
    fields: { name: string }[];
  };
  // Payloads written before inputRef existed end with the tag.
  if (!withInputRef) schema.fields = schema.fields.filter((f) => f.name !== 'inputRef');
  const type = avro.Type.forSchema(schema as avro.Schema);
  return (event: Record<string, unknown>) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(withInputRef ? 7 : 3, 1);
    return Buffer.concat([header, type.toBuffer(event)]);
  };
}

/** Every blob of the scenario, by what references it; each content is distinct, so each digest is. */
const BLOBS = {
  output: '{"node":"output of a run of A"}',
  shared: '{"node":"the same output in a run of A and a run of B"}',
  bOnly: '{"node":"output of a run of B only"}',
  queuedInput: '{"input":"of a run of A whose run.requested waits in the outbox"}',
  deadInput: '{"input":"of a run of A whose run.requested is in outbox_dead_letters"}',
  changelogInput: '{"input":"of a run of A, on the run.state changelog"}',
  changelogState: '{"status":"waiting","nodes":{}}',
  changelogEffects: '[{"type":"clear_all_timers"}]',
  taskInput: '{"input":{},"nodes":{}}',
  taskConfig: '{"expression":"input"}',
  completedOutput: '{"node":"output of a completion in flight, or of a node in a changelog state"}',
  sharedTaskInput: '{"input":{"the same":"for every task a transition dispatched"},"nodes":{}}',
  orphan: '{"referenced":"by nothing"}',
} as const;
type BlobName = keyof typeof BLOBS;
const ref = (name: BlobName) => refOf(BLOBS[name]);

describe('upgrading a live database to per-workspace content storage', () => {
  const url = withDatabase(ctx.databaseUrl, `${ctx.id}_live`.slice(0, 63));
  let pool: Pool;
  let store: ContentStore;
  let a: string;
  let b: string;

  before(async () => {
    ctx.defer(() => dropDatabase(url));
    await migrate(url, await migrationsUpTo(9));
    pool = createPool(url, { name: 'cas-upgrade', max: 4 });
    ctx.defer(() => pool.end());
    store = new ContentStore(pool);

    const one = async <T>(sql: string, params: unknown[]) => (await pool.query<T & object>(sql, params)).rows[0]!;
    a = (await one<{ id: string }>(`INSERT INTO workspaces (name) VALUES ('a') RETURNING id`, [])).id;
    b = (await one<{ id: string }>(`INSERT INTO workspaces (name) VALUES ('b') RETURNING id`, [])).id;
    const workflowOf = async (ws: string) =>
      (await one<{ id: string }>(`INSERT INTO workflows (workspace_id, name) VALUES ($1, 'w') RETURNING id`, [ws])).id;
    const workflows = { [a]: await workflowOf(a), [b]: await workflowOf(b) };
    const run = async (ws: string, nodes: Record<string, unknown> = {}, input: unknown = {}) => {
      const id = randomUUID();
      await pool.query(
        `INSERT INTO runs (id, workspace_id, workflow_id, workflow_version, status, input, nodes)
         VALUES ($1, $2, $3, 1, 'running', $4, $5)`,
        [id, ws, workflows[ws], JSON.stringify(input), JSON.stringify(nodes)],
      );
      return id;
    };

    // The old layout: one global row per digest, stored long ago.
    for (const content of Object.values(BLOBS)) {
      await pool.query(
        `INSERT INTO cas_blobs (sha256, size_bytes, content_type, content, created_at, last_put_at)
         VALUES ($1, $2, 'application/json', $3, now() - interval '30 days', now() - interval '30 days')`,
        [sha(content), Buffer.byteLength(content), Buffer.from(content)],
      );
    }

    // 1. Node outputs in the runs projection (nodes.<id>.outputRef), one of them in runs of both workspaces.
    await run(a, {
      big: { status: 'succeeded', attempts: 1, outputRef: ref('output') },
      same: { status: 'succeeded', attempts: 1, outputRef: ref('shared') },
    });
    await run(b, {
      same: { status: 'succeeded', attempts: 1, outputRef: ref('shared') },
      mine: { status: 'succeeded', attempts: 1, outputRef: ref('bOnly') },
    });
    // A's inline output shaped like a reference to B's blob: not a reference the system made.
    await run(a, { forged: { status: 'succeeded', attempts: 1, output: { $ref: ref('bOnly') } } });

    // 2. Spilled run inputs of run.requested events still in the outbox and in its dead letters.
    const encode = await runRequestedCodec(true);
    const encodeBeforeInputRef = await runRequestedCodec(false);
    const requested = (runId: string, ws: string, fields: Record<string, unknown>) => ({
      eventId: randomUUID(),
      type: 'run.requested',
      seq: 1,
      occurredAt: Date.now(),
      workspaceId: ws,
      runId,
      workflowId: workflows[ws],
      workflowVersion: 1,
      inputJson: '',
      tag: null,
      inputRef: null,
      ...fields,
    });
    const queued = await run(a, {}, JSON.parse(BLOBS.queuedInput));
    const dead = await run(a, {}, JSON.parse(BLOBS.deadInput));
    // A's inputs and tags that merely mention B's digest, in both layouts of the event.
    const mentions = await run(a, {}, { text: ref('bOnly') });
    const mentionsBefore = await run(a, {}, { text: ref('bOnly') });
    const outboxRow = (runId: string, payload: Buffer) =>
      pool.query(
        `INSERT INTO outbox (topic, message_key, event_type, payload) VALUES ('run.requested', $1, 'run.requested', $2)`,
        [runId, payload],
      );
    await outboxRow(queued, encode(requested(queued, a, { inputRef: ref('queuedInput') })));
    await outboxRow(
      mentions,
      encode(requested(mentions, a, { inputJson: JSON.stringify({ text: ref('bOnly') }), tag: ref('bOnly') })),
    );
    await outboxRow(
      mentionsBefore,
      encodeBeforeInputRef({
        ...requested(mentionsBefore, a, { inputJson: JSON.stringify({ text: ref('bOnly') }), tag: ref('bOnly') }),
        inputRef: undefined,
      }),
    );
    await pool.query(
      `INSERT INTO outbox_dead_letters (id, topic, message_key, event_type, payload, headers, created_at, error, dead_by)
       VALUES (900001, 'run.requested', $1, 'run.requested', $2, '{}', now() - interval '20 days', 'MESSAGE_TOO_LARGE', 'relay-1')`,
      [dead, encode(requested(dead, a, { inputRef: ref('deadInput') }))],
    );

    // 3. References that live only in Kafka (the run.state changelog, tasks in flight) have no row here: their blobs
    //    are the changelog* and task* ones above.

    await migrate(url, MIGRATIONS_DIR);
  });

  it('gives each workspace the blobs its rows reference, and no workspace any other blob', async () => {
    const { rows } = await pool.query<{ workspace_id: string; sha256: string }>(
      'SELECT workspace_id, sha256 FROM cas_blobs',
    );
    const held = rows.map((r) => `${r.workspace_id === a ? 'a' : 'b'}:${r.sha256}`).sort();
    const expected = (
      [
        ['a', 'output'],
        ['a', 'shared'],
        ['b', 'shared'],
        ['b', 'bOnly'],
        ['a', 'queuedInput'],
        ['a', 'deadInput'],
      ] as const
    )
      .map(([ws, name]) => `${ws}:${sha(BLOBS[name])}`)
      .sort();
    assert.deepEqual(held, expected);
    for (const [ws, name] of [
      [a, 'output'],
      [a, 'queuedInput'],
      [a, 'deadInput'],
      [b, 'bOnly'],
    ] as const) {
      assert.equal((await store.get(ws, ref(name)))?.content.toString(), BLOBS[name], `${name} in its workspace`);
    }
    for (const [ws, name] of [
      [b, 'output'],
      [b, 'queuedInput'],
      [b, 'deadInput'],
      [a, 'bOnly'],
    ] as const) {
      assert.equal(await store.get(ws, ref(name)), undefined, `${name} not in the other workspace`);
    }
  });

  it("resolves the spilled fields of the workspace's Kafka records (changelog, tasks) in it, and only in it", async () => {
    for (const name of ['changelogInput', 'changelogState', 'changelogEffects', 'taskInput', 'taskConfig'] as const) {
      assert.equal(await store.unspill(a, '', ref(name)), BLOBS[name], name);
      assert.equal(await store.get(b, ref(name)), undefined, `${name} not in b`);
      await assert.rejects(store.resolveNodeOutputs(b, { n: { $ref: ref(name) } }), /not in this workspace/);
    }
  });

  it('resolves a field that several readers unspill at once (the tasks of one transition share their input)', async () => {
    const read = await Promise.all(Array.from({ length: 4 }, () => store.unspill(a, '', ref('sharedTaskInput'))));
    assert.deepEqual(read, Array<string>(4).fill(BLOBS.sharedTaskInput));
  });

  it("resolves a node output that the workspace's Kafka records reference once the reader adopts it, only there", async () => {
    const output = { n: { $ref: ref('completedOutput') } };
    await assert.rejects(store.resolveNodeOutputs(a, output), /not in this workspace/, 'not before');
    assert.equal(await store.adopt(a, [ref('completedOutput')]), 1);
    assert.deepEqual(await store.resolveNodeOutputs(a, output), { n: JSON.parse(BLOBS.completedOutput) as unknown });
    await assert.rejects(store.resolveNodeOutputs(b, output), /not in this workspace/);
    assert.equal(await store.adopt(a, [ref('completedOutput')]), 0, 'adopted once');
  });

  it('never resolves an old blob through a value shaped like a reference', async () => {
    await assert.rejects(store.resolveNodeOutputs(a, { forged: { $ref: ref('bOnly') } }), /not in this workspace/);
    await assert.rejects(store.resolveNodeOutputs(a, { forged: { $ref: ref('orphan') } }), /not in this workspace/);
  });

  it('keeps every blob still referenced through the blob collector, and old blobs for a grace period', async () => {
    const unreferenced = await store.put(a, Buffer.from('referenced by nothing'), 'text/plain');
    await pool.query(`UPDATE cas_blobs SET last_put_at = now() - interval '30 days'`);
    // Every run projected again since the upgrade, so its changelog references are known (migration 0012): what
    // keeps a blob below is its own reference, not a workspace-wide hold.
    await pool.query(`UPDATE runs SET content_refs = '{}'`);
    const settings = { intervalMs: 3_600_000, idempotencyKeyTtlMs: 0, casGraceMs: 7 * DAY, finishedRunRetentionMs: 0 };
    const collect = async () => {
      await pool.query(`UPDATE maintenance_jobs SET next_run_at = now()`);
      return runDueJobs(pool, retentionJobs(settings), settings.intervalMs);
    };
    await collect();
    for (const [ws, name] of [
      [a, 'output'],
      [a, 'shared'],
      [b, 'shared'],
      [b, 'bOnly'],
      [a, 'queuedInput'],
      [a, 'deadInput'],
    ] as const) {
      assert.ok(await store.get(ws, ref(name)), `${name} kept`);
    }
    assert.equal(await store.get(a, unreferenced), undefined, 'what nothing references is collected');
    const legacy = async () =>
      (await pool.query<{ sha256: string }>('SELECT sha256 FROM cas_blobs_legacy ORDER BY sha256')).rows.map(
        (r) => r.sha256,
      );
    assert.ok((await legacy()).includes(sha(BLOBS.orphan)), 'old blobs are kept within the grace period');

    await pool.query(`UPDATE cas_blobs_legacy SET kept_since = now() - interval '8 days'`);
    await collect();
    assert.deepEqual(await legacy(), [], 'old blobs go once the grace period after the upgrade is over');
    assert.ok(await store.get(a, ref('queuedInput')), 'copies stay');
  });
});

/** Migration 0010 as it was first released: it dropped the old blobs after copying those node outputs reference. */
const FIRST_0010 = `-- Content-addressed blobs belong to a workspace: a reference resolves only within the workspace whose run stored it,
-- so one tenant cannot read another's outputs by naming their digest. The same content stored by two workspaces is two
-- rows. Blobs written before are kept for every workspace whose runs reference them; the rest were unreachable anyway.
ALTER TABLE cas_blobs RENAME TO cas_blobs_unscoped;

CREATE TABLE cas_blobs (
  workspace_id uuid        NOT NULL REFERENCES workspaces (id),
  sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes   integer     NOT NULL,
  content_type text        NOT NULL,
  content      bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_put_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, sha256)
);

INSERT INTO cas_blobs (workspace_id, sha256, size_bytes, content_type, content, created_at, last_put_at)
SELECT DISTINCT ON (r.workspace_id, b.sha256) r.workspace_id, b.sha256, b.size_bytes, b.content_type, b.content, b.created_at,
       b.last_put_at
  FROM cas_blobs_unscoped b
  JOIN runs r ON EXISTS (
    SELECT 1 FROM jsonb_each(r.nodes) n
     WHERE jsonb_typeof(n.value) = 'object' AND n.value ->> 'outputRef' = 'sha256:' || b.sha256
  );

DROP TABLE cas_blobs_unscoped;
CREATE INDEX cas_blobs_last_put ON cas_blobs (last_put_at);
`;

describe('a database that applied the first text of 0010', () => {
  const url = withDatabase(ctx.databaseUrl, `${ctx.id}_first`.slice(0, 63));

  it('is accepted, and the migrations after it complete on it', async () => {
    ctx.defer(() => dropDatabase(url));
    const corrected = (await readMigrations(MIGRATIONS_DIR)).find((m) => m.version === 10);
    assert.deepEqual(corrected?.supersedes, [sha(FIRST_0010)], 'the text below is the one 0010 supersedes');
    const dir = await migrationsUpTo(9);
    await migrate(url, dir);
    const pool = createPool(url, { name: 'cas-upgrade-first', max: 2 });
    ctx.defer(() => pool.end());
    const ws = (await pool.query<{ id: string }>(`INSERT INTO workspaces (name) VALUES ('a') RETURNING id`)).rows[0]!
      .id;
    const wf = (
      await pool.query<{ id: string }>(`INSERT INTO workflows (workspace_id, name) VALUES ($1, 'w') RETURNING id`, [ws])
    ).rows[0]!.id;
    await pool.query(
      `INSERT INTO cas_blobs (sha256, size_bytes, content_type, content) VALUES ($1, $2, 'application/json', $3)`,
      [sha(BLOBS.output), Buffer.byteLength(BLOBS.output), Buffer.from(BLOBS.output)],
    );
    await pool.query(
      `INSERT INTO runs (id, workspace_id, workflow_id, workflow_version, status, input, nodes)
       VALUES ($1, $2, $3, 1, 'running', '{}', $4)`,
      [randomUUID(), ws, wf, JSON.stringify({ big: { status: 'succeeded', attempts: 1, outputRef: ref('output') } })],
    );
    await writeFile(join(dir, '0010_cas_blobs_per_workspace.sql'), FIRST_0010);
    await migrate(url, dir);

    const report = await migrate(url, MIGRATIONS_DIR);
    assert.ok(report.applied.includes('0011_cas_legacy_references.sql'));
    assert.ok(!report.applied.includes('0010_cas_blobs_per_workspace.sql'));
    const store = new ContentStore(pool);
    assert.equal((await store.get(ws, ref('output')))?.content.toString(), BLOBS.output);
    const legacy = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM cas_blobs_legacy');
    assert.equal(legacy.rows[0]?.n, 0, 'nothing is left of the old blobs to adopt');
    assert.equal(await store.adopt(ws, [ref('output'), ref('orphan')]), 0);
  });
});
