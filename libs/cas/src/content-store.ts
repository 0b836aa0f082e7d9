import type { BlobBackend, BlobRow, Queryable } from './blob-backend.js';
import { decodeBlob, encodeBlob, sha256Hex, type Compression } from './blob-encoding.js';
import { BlobIntegrityError } from './blob-integrity-error.js';
import { ADOPT_LEGACY_BLOBS, LEGACY_BLOBS_LEFT, READ_BLOB } from './blobs.sql.js';
import { postgresBlobBackend } from './postgres-blob-backend.js';

/** JSON text as an event field carries it: inline, or (when too large) empty with a reference to its stored bytes. */
export type SpilledJson = { readonly json: string; readonly ref: null } | { readonly json: ''; readonly ref: string };

const REF = /^sha256:([0-9a-f]{64})$/;

/** How long a store that found blobs left in cas_blobs_legacy trusts that answer before it asks again. */
const LEGACY_RECHECK_MS = 3_600_000;

type Blob = { content: Buffer; contentType: string };

type StoredRow = {
  content_type: string;
  size_bytes: number;
  backend: BlobBackend['kind'];
  compression: Compression;
  content: Buffer | null;
  chunk: Buffer | null;
};

/**
 * Content-addressed storage: a blob's key is its sha256, so storing the same output twice stores it once, and what is
 * read is checked against the digest it is named by (a mismatch is a BlobIntegrityError, never content). Events carry
 * `sha256:<hex>` references instead of large payloads (DESIGN §1), which keeps Kafka messages small. Blobs belong to a
 * workspace: a reference resolves only among the blobs stored for the workspace asking, so naming another tenant's
 * digest (in an output shaped like a reference, say) finds nothing.
 *
 * Metadata is a cas_blobs row in Postgres; the bytes, compressed when that pays, are where `backend` keeps them
 * (Postgres by default, or S3). A blob is read from the backend its row names, so rows stored in Postgres stay
 * readable after CAS_BACKEND moves to s3.
 */
export class ContentStore {
  /**
   * `db`: a pool, or a client inside a transaction so that a blob's row commits with the row that references it.
   * `backend`: where new blobs' bytes go.
   */
  constructor(
    private readonly pool: Queryable,
    private readonly backend: BlobBackend = postgresBlobBackend,
  ) {}

  /**
   * Blobs being written or read right now, by workspace and digest: concurrent puts or gets of the same content (the
   * tasks a transition dispatches share their input; a batch of tasks reads it together) cost one round trip.
   */
  private readonly writing = new Map<string, Promise<void>>();
  private readonly reading = new Map<string, Promise<Blob | undefined>>();
  /** Whether cas_blobs_legacy held rows when last asked, and when that was. */
  private legacy: { left: boolean; askedAt: number } | undefined;

  /**
   * Storing content that is already there refreshes its `last_put_at` (at most hourly, to spare the writes), so the
   * blob collector, which spares blobs stored within its grace period, never takes a blob a new reference was just
   * made to. The grace period is therefore at least two hours (libs/config).
   */
  async put(workspaceId: string, content: Buffer, contentType: string): Promise<string> {
    const digest = sha256Hex(content);
    const key = `${workspaceId}/${digest}`;
    let write = this.writing.get(key);
    if (!write) {
      write = encodeBlob(workspaceId, digest, content, contentType)
        .then((blob) => this.backend.put(this.pool, blob))
        .finally(() => this.writing.delete(key));
      this.writing.set(key, write);
    }
    await write;
    return `sha256:${digest}`;
  }

  get(workspaceId: string, ref: string): Promise<Blob | undefined> {
    const digest = REF.exec(ref)?.[1];
    if (!digest) return Promise.reject(new Error(`not a content reference: ${ref}`));
    const key = `${workspaceId}/${digest}`;
    let read = this.reading.get(key);
    if (!read) {
      read = this.read(workspaceId, digest).finally(() => this.reading.delete(key));
      this.reading.set(key, read);
    }
    return read;
  }

  private async read(workspaceId: string, sha256: string): Promise<Blob | undefined> {
    const { rows } = await this.pool.query<StoredRow>(READ_BLOB, [workspaceId, sha256]);
    const first = rows[0];
    if (!first) return undefined;
    const row: BlobRow = {
      workspaceId,
      sha256,
      contentType: first.content_type,
      sizeBytes: first.size_bytes,
      backend: first.backend,
      compression: first.compression,
      content: first.content,
      chunks: rows.flatMap((r) => r.chunk ?? []),
    };
    const stored = await this.backendOf(row).read(row);
    if (!stored) throw new BlobIntegrityError(workspaceId, sha256, 'bytes missing');
    return { content: await decodeBlob(row, row.compression, row.sizeBytes, stored), contentType: row.contentType };
  }

  private backendOf(row: BlobRow): BlobBackend {
    if (row.backend === this.backend.kind) return this.backend;
    if (row.backend === 'postgres') return postgresBlobBackend;
    throw new Error(
      `content sha256:${row.sha256} is stored in ${row.backend}, and this store has no ${row.backend} backend`,
    );
  }

  /** A JSON value inline when its text is at most `inlineMaxBytes`, else stored and referenced. */
  async storeJson(
    workspaceId: string,
    value: unknown,
    inlineMaxBytes: number,
  ): Promise<{ json: string } | { ref: string }> {
    const json = JSON.stringify(value ?? null);
    if (Buffer.byteLength(json) <= inlineMaxBytes) return { json };
    return { ref: await this.put(workspaceId, Buffer.from(json), 'application/json') };
  }

  /**
   * JSON text for an event field: as it is when at most `inlineMaxBytes`, else stored, and the field carries the
   * reference (`<name>Ref`) with an empty text. Keeps every message under the broker's size limit whatever a run holds.
   */
  async spill(workspaceId: string, json: string, inlineMaxBytes: number): Promise<SpilledJson> {
    if (Buffer.byteLength(json) <= inlineMaxBytes) return { json, ref: null };
    return { json: '', ref: await this.put(workspaceId, Buffer.from(json), 'application/json') };
  }

  /**
   * The JSON text of an event field that `spill` wrote: its inline text, or the stored text its reference names. The
   * reference in such a field was written by the system for the event's workspace, never taken from tenant data, so
   * one stored before blobs belonged to a workspace is adopted (see `adopt`).
   */
  async unspill(workspaceId: string, json: string, ref: string | null): Promise<string> {
    if (ref === null) return json;
    let blob = await this.get(workspaceId, ref);
    if (!blob) {
      // Read again whatever the count: a concurrent reader of the same field may have adopted it first.
      await this.adopt(workspaceId, [ref]);
      blob = await this.get(workspaceId, ref);
    }
    if (!blob) throw new Error(`content ${ref} is not in this workspace's storage`);
    return blob.content.toString('utf8');
  }

  /**
   * Copies blobs stored before blobs belonged to a workspace (cas_blobs_legacy, migrations 0010 and 0011) into the
   * workspace, for references that the system wrote for that workspace and that live only in Kafka: the run.state
   * changelog (a run's input, state and effects, its nodes' outputRefs), tasks and completions in flight, dead-letter
   * topics. The migrations copied what Postgres rows reference; Kafka's references are met here, when a record is
   * read. Returns how many blobs were copied.
   *
   * Only for references from the fields the system writes (a spilled field, a node's `outputRef`), with the
   * workspace of the record or run that carries them: a value in tenant data shaped like a reference (an inline output
   * `{"$ref": …}`) never comes here, so no workspace takes another's old blob by naming its digest. Copying, rather
   * than reading the old global row whenever a workspace misses, keeps every read strictly within its workspace; the
   * copy counts as a new store (`last_put_at` now), so the collector spares it for its grace period like any blob
   * just written, and the old rows can go once that grace period after the upgrade is over (libs/retention). Copies
   * stay as the old rows were, uncompressed and inline in Postgres, whatever the backend of new blobs.
   */
  async adopt(workspaceId: string, refs: readonly string[]): Promise<number> {
    const digests = [...new Set(refs.flatMap((ref) => REF.exec(ref)?.[1] ?? []))];
    if (!digests.length || !(await this.legacyLeft())) return 0;
    const { rowCount } = await this.pool.query(ADOPT_LEGACY_BLOBS, [workspaceId, digests]);
    return rowCount ?? 0;
  }

  /**
   * Whether old blobs are left to adopt. Nothing adds to them, so "none" is final; "some" is asked again hourly, so a
   * long-running process stops asking for each reference once the collector took the last of them.
   */
  private async legacyLeft(): Promise<boolean> {
    const now = Date.now();
    if (this.legacy && (!this.legacy.left || now - this.legacy.askedAt < LEGACY_RECHECK_MS)) return this.legacy.left;
    const { rows } = await this.pool.query<{ left: boolean }>(LEGACY_BLOBS_LEFT);
    this.legacy = { left: rows[0]?.left === true, askedAt: now };
    return this.legacy.left;
  }

  async loadJson(workspaceId: string, ref: string): Promise<unknown> {
    const blob = await this.get(workspaceId, ref);
    if (!blob) throw new Error(`content ${ref} is not in this workspace's storage`);
    return JSON.parse(blob.content.toString('utf8')) as unknown;
  }

  /**
   * Replaces `{$ref: "sha256:..."}` node outputs with their content, for expressions that read them. Outputs are
   * referenced by the run state (see visibleOutput in libs/runs) and resolved only where an expression needs them.
   */
  async resolveNodeOutputs(workspaceId: string, nodes: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (!Object.values(nodes).some(isRef)) return nodes;
    const entries = await Promise.all(
      Object.entries(nodes).map(async ([id, value]) => [
        id,
        isRef(value) ? await this.loadJson(workspaceId, value.$ref) : value,
      ]),
    );
    return Object.fromEntries(entries) as Record<string, unknown>;
  }
}

const isRef = (value: unknown): value is { $ref: string } =>
  typeof value === 'object' &&
  value !== null &&
  Object.keys(value).length === 1 &&
  typeof (value as { $ref?: unknown }).$ref === 'string' &&
  REF.test((value as { $ref: string }).$ref);
