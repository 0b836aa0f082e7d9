import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createPool, inTransaction, type Pool } from '#libs/db';
import { retentionJobs, runDueJobs } from '#libs/retention';
import { useTestBucket } from '#test/harness/test-bucket.js';
import { useTestContext } from '#test/harness/test-context.js';
import type { BlobBackend } from './blob-backend.js';
import { sha256Hex } from './blob-encoding.js';
import { BlobIntegrityError } from './blob-integrity-error.js';
import { ContentStore } from './content-store.js';
import { CHUNK_BYTES, postgresBlobBackend } from './postgres-blob-backend.js';
import { PART_BYTES } from './s3-blob-backend.js';

const ctx = useTestContext('cas_backends');
const DAY = 86_400_000;
const GRACE_MS = 7 * DAY;

let pool: Pool;
before(() => {
  pool = createPool(ctx.databaseUrl, { name: 'cas-backends', max: 4 });
  ctx.defer(() => pool.end());
});
const s3 = useTestBucket(ctx, () => pool);

/** What each backend's tests need beyond the store: its stored bytes, to count, corrupt and find gone. */
interface Subject {
  readonly backend: () => BlobBackend;
  /** Whether any of the blob's bytes are still stored. */
  readonly bytesLeft: (workspaceId: string, sha256: string) => Promise<boolean>;
  /** Changes the stored bytes behind the backend's back (a flipped bit on disk, an overwritten object). */
  readonly corrupt: (workspaceId: string, sha256: string) => Promise<void>;
  /** How many bytes the backend holds for the blob. */
  readonly storedSize: (workspaceId: string, sha256: string) => Promise<number>;
}

const one = async <T>(sql: string, params: unknown[]): Promise<T> =>
  (await pool.query<{ v: T }>(sql, params)).rows[0]!.v;

const postgres: Subject = {
  backend: () => postgresBlobBackend,
  bytesLeft: async (ws, sha) =>
    (await one<number>('SELECT count(*)::int AS v FROM cas_blob_chunks WHERE workspace_id = $1 AND sha256 = $2', [
      ws,
      sha,
    ])) > 0 ||
    (await one<number>(
      'SELECT count(*)::int AS v FROM cas_blobs WHERE workspace_id = $1 AND sha256 = $2 AND content IS NOT NULL',
      [ws, sha],
    )) > 0,
  corrupt: async (ws, sha) => {
    await pool.query(
      `UPDATE cas_blobs SET content = set_byte(content, 3, get_byte(content, 3) # 1)
        WHERE workspace_id = $1 AND sha256 = $2 AND content IS NOT NULL`,
      [ws, sha],
    );
    await pool.query(
      `UPDATE cas_blob_chunks SET data = set_byte(data, 3, get_byte(data, 3) # 1)
        WHERE workspace_id = $1 AND sha256 = $2 AND seq = 1`,
      [ws, sha],
    );
  },
  storedSize: async (ws, sha) =>
    Number(
      await one<string>(
        `SELECT coalesce(octet_length(b.content), 0) + coalesce((SELECT sum(octet_length(c.data)) FROM cas_blob_chunks c
                 WHERE c.workspace_id = b.workspace_id AND c.sha256 = b.sha256), 0) AS v
           FROM cas_blobs b WHERE b.workspace_id = $1 AND b.sha256 = $2`,
        [ws, sha],
      ),
    ),
};

const head = (ws: string, sha: string) =>
  s3().client.send(new HeadObjectCommand({ Bucket: s3().settings.bucket, Key: s3().key(ws, sha) }));
const s3Subject: Subject = {
  backend: s3,
  bytesLeft: (ws, sha) =>
    head(ws, sha).then(
      () => true,
      (error: Error) => (error.name === 'NotFound' ? false : Promise.reject(error)),
    ),
  corrupt: async (ws, sha) => {
    await s3().client.send(
      new PutObjectCommand({ Bucket: s3().settings.bucket, Key: s3().key(ws, sha), Body: randomBytes(64) }),
    );
  },
  storedSize: async (ws, sha) => (await head(ws, sha)).ContentLength ?? -1,
};

const digestOf = (ref: string) => ref.slice('sha256:'.length);

for (const [name, subject] of [
  ['postgres', postgres],
  ['s3', s3Subject],
] as const) {
  describe(`content-addressed storage on the ${name} backend`, () => {
    let ws: string;
    let other: string;
    let workflow: string;
    const store = (db: Pick<Pool, 'query'> = pool) => new ContentStore(db, subject.backend());
    const workspace = async (label: string) =>
      one<string>('INSERT INTO workspaces (name) VALUES ($1) RETURNING id AS v', [`${name}-${label}`]);

    before(async () => {
      ws = await workspace('mine');
      other = await workspace('theirs');
      workflow = await one<string>(`INSERT INTO workflows (workspace_id, name) VALUES ($1, 'w') RETURNING id AS v`, [
        ws,
      ]);
    });

    it('stores the same content once and resolves it only in its own workspace', async () => {
      const content = Buffer.from(`dedupe ${name} ${randomUUID()}`);
      const [a, b] = await Promise.all([
        store().put(ws, content, 'text/plain'),
        store().put(ws, content, 'text/plain'),
      ]);
      assert.equal(a, b);
      await store().put(ws, content, 'text/plain');
      assert.equal(await one<number>('SELECT count(*)::int AS v FROM cas_blobs WHERE sha256 = $1', [digestOf(a)]), 1);
      assert.equal((await store().get(ws, a))?.content.toString(), content.toString());
      assert.equal(await store().get(other, a), undefined, 'another workspace naming the digest finds nothing');
      assert.equal(await subject.bytesLeft(other, digestOf(a)), false);
    });

    it('round-trips a large blob in pieces (chunks in Postgres, a multipart upload to S3)', async () => {
      const content = randomBytes(12 * 1_048_576);
      const commands: string[] = [];
      if (name === 's3') {
        s3().client.middlewareStack.add(
          (next, context) => (args) => {
            commands.push(context.commandName ?? '');
            return next(args);
          },
          { step: 'initialize', name: 'count-commands' },
        );
      }
      try {
        const ref = await store().put(ws, content, 'application/octet-stream');
        const read = await store().get(ws, ref);
        assert.ok(read?.content.equals(content), 'the same bytes come back');
      } finally {
        if (name === 's3') s3().client.middlewareStack.remove('count-commands');
      }
      if (name === 'postgres') {
        const chunks = await one<number>('SELECT count(*)::int AS v FROM cas_blob_chunks WHERE sha256 = $1', [
          sha256Hex(content),
        ]);
        assert.equal(chunks, Math.ceil(content.length / CHUNK_BYTES));
      } else {
        assert.equal(commands.filter((c) => c === 'UploadPartCommand').length, Math.ceil(content.length / PART_BYTES));
        assert.ok(commands.includes('CompleteMultipartUploadCommand'), commands.join());
      }
    });

    it('compresses what compresses, and stores what does not as it is', async () => {
      const text = Buffer.from(
        JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ i, name: 'row', ok: true }))),
      );
      const packed = digestOf(await store().put(ws, text, 'application/json'));
      const noise = randomBytes(4_096);
      const raw = digestOf(await store().put(ws, noise, 'application/octet-stream'));
      const size = async (sha: string) =>
        (
          await pool.query<{ compression: string; stored_bytes: string }>(
            'SELECT compression, stored_bytes FROM cas_blobs WHERE workspace_id = $1 AND sha256 = $2',
            [ws, sha],
          )
        ).rows[0]!;
      const packedRow = await size(packed);
      assert.equal(packedRow.compression, 'zstd');
      assert.ok(Number(packedRow.stored_bytes) < text.length / 10, `${packedRow.stored_bytes} of ${text.length}`);
      assert.equal(await subject.storedSize(ws, packed), Number(packedRow.stored_bytes), 'what the backend holds');
      assert.deepEqual(await size(raw), { compression: 'none', stored_bytes: String(noise.length) });
      assert.ok((await store().get(ws, `sha256:${packed}`))?.content.equals(text));
    });

    for (const [what, bytes] of [
      ['an inline blob', 4_096],
      ['a large blob', 3 * 1_048_576],
    ] as const) {
      it(`refuses ${what} whose stored bytes changed, and a put of the same content does not rewrite them`, async () => {
        const content = randomBytes(bytes);
        const ref = await store().put(ws, content, 'application/octet-stream');
        await subject.corrupt(ws, digestOf(ref));
        await assert.rejects(store().get(ws, ref), BlobIntegrityError);
        await store().put(ws, content, 'application/octet-stream');
        await assert.rejects(store().loadJson(ws, ref), BlobIntegrityError, 'the stored bytes stay as they were');
      });
    }

    it('leaves no metadata row when the transaction that stored a blob rolls back', async () => {
      const content = Buffer.from(`rolled back ${name} ${randomUUID()}`);
      let ref = '';
      await assert.rejects(
        inTransaction(pool, async (client) => {
          ref = await store(client).put(ws, content, 'text/plain');
          assert.ok(await store(client).get(ws, ref), 'visible inside its transaction');
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal(await store().get(ws, ref), undefined);
      assert.equal(await postgres.bytesLeft(ws, digestOf(ref)), false, 'no row, no chunks');
    });

    it('collects the bytes of blobs nothing references once past the grace period, and spares the referenced', async () => {
      const [kept, collected] = await Promise.all(
        ['kept', 'collected'].map((what) => store().put(ws, randomBytes(2 * 1_048_576 + 7), what)),
      );
      await pool.query(`UPDATE cas_blobs SET last_put_at = now() - interval '30 days' WHERE workspace_id = $1`, [ws]);
      await pool.query(`UPDATE cas_s3_objects SET written_at = now() - interval '30 days' WHERE workspace_id = $1`, [
        ws,
      ]);
      await pool.query(
        `INSERT INTO runs (id, workspace_id, workflow_id, workflow_version, status, input, nodes, content_refs)
         VALUES ($1, $2, $3, 1, 'running', '{}', '{}', $4)`,
        [randomUUID(), ws, workflow, [kept]],
      );
      assert.equal(await subject.bytesLeft(ws, digestOf(collected!)), true);
      await pool.query('UPDATE maintenance_jobs SET next_run_at = now()');
      const settings = {
        intervalMs: 3_600_000,
        idempotencyKeyTtlMs: 0,
        casGraceMs: GRACE_MS,
        finishedRunRetentionMs: 0,
      };
      const outcomes = await runDueJobs(pool, retentionJobs({ ...settings, blobs: subject.backend() }), 3_600_000);
      assert.deepEqual(
        outcomes.map((o) => o.error),
        outcomes.map(() => undefined),
      );
      assert.equal(await store().get(ws, collected!), undefined);
      assert.equal(await subject.bytesLeft(ws, digestOf(collected!)), false, 'its bytes went with it');
      assert.equal((await store().get(ws, kept!))?.contentType, 'kept');
      assert.equal(await subject.bytesLeft(ws, digestOf(kept!)), true);
    });
  });
}

describe('the S3 backend', () => {
  it('sweeps objects whose row never committed once past the grace period, not before', async () => {
    const ws = await one<string>(`INSERT INTO workspaces (name) VALUES ('orphans') RETURNING id AS v`, []);
    const content = randomBytes(1_000);
    let ref = '';
    await assert.rejects(
      inTransaction(pool, async (client) => {
        ref = await new ContentStore(client, s3()).put(ws, content, 'application/octet-stream');
        throw new Error('crash before commit');
      }),
      /crash before commit/,
    );
    const sha = digestOf(ref);
    assert.equal(await s3Subject.bytesLeft(ws, sha), true, 'uploaded before the row');
    assert.equal(await s3().collectOrphans(pool, GRACE_MS, 100), 0, 'an upload may still be in flight');
    await pool.query(`UPDATE cas_s3_objects SET written_at = now() - interval '8 days' WHERE workspace_id = $1`, [ws]);
    assert.equal(await s3().collectOrphans(pool, GRACE_MS, 100), 1);
    assert.equal(await s3Subject.bytesLeft(ws, sha), false);
    assert.equal(await one<number>('SELECT count(*)::int AS v FROM cas_s3_objects WHERE workspace_id = $1', [ws]), 0);
    // Stored again, it is a new upload with its own row.
    await new ContentStore(pool, s3()).put(ws, content, 'application/octet-stream');
    assert.ok((await new ContentStore(pool, s3()).get(ws, ref))?.content.equals(content));
  });

  it('reads blobs stored in Postgres before the move to S3, and before compression existed', async () => {
    const ws = await one<string>(`INSERT INTO workspaces (name) VALUES ('moved') RETURNING id AS v`, []);
    const old = Buffer.from('stored inline and uncompressed, as before migration 0015');
    const sha = sha256Hex(old);
    await pool.query(
      `INSERT INTO cas_blobs (workspace_id, sha256, size_bytes, content_type, content) VALUES ($1, $2, $3, 'text/plain', $4)`,
      [ws, sha, old.length, old],
    );
    assert.equal((await new ContentStore(pool, s3()).get(ws, `sha256:${sha}`))?.content.toString(), old.toString());
    const moved = await new ContentStore(pool).put(ws, Buffer.from('in postgres'), 'text/plain');
    assert.equal((await new ContentStore(pool, s3()).get(ws, moved))?.content.toString(), 'in postgres');
  });
});
