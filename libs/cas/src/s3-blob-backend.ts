import { DeleteObjectsCommand, GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Pool } from 'pg';
import { inTransaction } from '#libs/db';
import { trackResource } from '#libs/resources';
import type { BlobBackend, BlobRow, Queryable } from './blob-backend.js';
import type { EncodedBlob } from './blob-encoding.js';
import { BlobIntegrityError } from './blob-integrity-error.js';
import {
  CLAIM_ORPHAN_S3_OBJECTS,
  FORGET_S3_OBJECTS,
  INSERT_S3_BLOB_ROW,
  RECORD_S3_UPLOAD,
  REFRESH_IF_PRESENT,
} from './blobs.sql.js';

export interface S3Settings {
  /** Absent: AWS's own endpoint for the region. */
  readonly endpoint?: string | undefined;
  readonly region: string;
  readonly bucket: string;
  /** Keys are `<prefix>/<workspace>/<sha256>`; empty: `<workspace>/<sha256>`. */
  readonly prefix: string;
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`), which most S3-compatible servers need. */
  readonly forcePathStyle: boolean;
  /** Absent: the SDK's default credential chain (environment, profile, instance or task role). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
}

/** Uploads larger than one part go multipart, parts of this size (S3's minimum is 5 MiB), a few at once. */
export const PART_BYTES = 8 * 1_048_576;
const PARTS_AT_ONCE = 4;
/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1_000;

/**
 * Bytes in any S3-compatible object store, one object per blob and workspace. The order keeps every committed row's
 * object in place: the object is listed in cas_s3_objects (committed at once, on `ledger`), then uploaded, then its
 * row is written with `db` (possibly the caller's transaction). Objects whose row never commits, or was collected,
 * are swept from that list after the grace period (collectOrphans).
 */
export class S3BlobBackend implements BlobBackend {
  readonly kind = 's3';
  readonly client: S3Client;
  private readonly release: () => void;

  constructor(
    readonly settings: S3Settings,
    private readonly ledger: Queryable,
  ) {
    this.client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      // Blobs carry their own sha256, checked on every read; the SDK's default CRC32 trailers are not understood by
      // every S3-compatible server.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.release = trackResource('s3-client', settings.bucket);
  }

  key(workspaceId: string, sha256: string): string {
    return [this.settings.prefix, workspaceId, sha256].filter(Boolean).join('/');
  }

  async put(db: Queryable, blob: EncodedBlob): Promise<void> {
    const { rows } = await db.query<{ present: boolean }>(REFRESH_IF_PRESENT, [blob.workspaceId, blob.sha256]);
    if (rows[0]?.present) return;
    await this.ledger.query(RECORD_S3_UPLOAD, [blob.workspaceId, blob.sha256]);
    await new Upload({
      client: this.client,
      params: {
        Bucket: this.settings.bucket,
        Key: this.key(blob.workspaceId, blob.sha256),
        Body: blob.stored,
        ContentType: 'application/octet-stream',
        Metadata: { sha256: blob.sha256, compression: blob.compression, 'content-type': blob.contentType },
      },
      partSize: PART_BYTES,
      queueSize: PARTS_AT_ONCE,
    }).done();
    await db.query(INSERT_S3_BLOB_ROW, [
      blob.workspaceId,
      blob.sha256,
      blob.sizeBytes,
      blob.contentType,
      blob.compression,
      blob.stored.length,
    ]);
  }

  async read(row: BlobRow): Promise<Buffer> {
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(row.workspaceId, row.sha256) }),
      );
      return Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey) throw new BlobIntegrityError(row.workspaceId, row.sha256, 'bytes missing');
      throw error;
    }
  }

  /** One transaction per batch: the claimed entries stay locked until their objects are deleted and they are gone. */
  collectOrphans(pool: Pool, olderThanMs: number, limit: number): Promise<number> {
    return inTransaction(pool, async (client) => {
      const { rows } = await client.query<{ workspace_id: string; sha256: string }>(CLAIM_ORPHAN_S3_OBJECTS, [
        olderThanMs,
        Math.min(limit, DELETE_BATCH),
      ]);
      if (!rows.length) return 0;
      const { Errors } = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.settings.bucket,
          Delete: { Objects: rows.map((r) => ({ Key: this.key(r.workspace_id, r.sha256) })), Quiet: true },
        }),
      );
      // A key that is already gone is no error in S3; anything else keeps the entries for the next pass.
      if (Errors?.length) throw new Error(`S3 refused to delete ${Errors[0]!.Key ?? '?'}: ${Errors[0]!.Message ?? ''}`);
      await client.query(FORGET_S3_OBJECTS, [rows.map((r) => r.workspace_id), rows.map((r) => r.sha256)]);
      return rows.length;
    });
  }

  close(): Promise<void> {
    this.client.destroy();
    this.release();
    return Promise.resolve();
  }
}
