import type { BlobBackend } from './blob-backend.js';
import { PUT_POSTGRES_BLOB } from './blobs.sql.js';

/** Stored bytes up to this stay inline in their row; larger ones are cut into chunks of this size, no bytea huge. */
export const CHUNK_BYTES = 1_048_576;

/** Bytes in Postgres beside their metadata: the embedded default, nothing else to run. */
export const postgresBlobBackend: BlobBackend = {
  kind: 'postgres',

  async put(db, blob) {
    const inline = blob.stored.length <= CHUNK_BYTES;
    const chunks: Buffer[] = [];
    for (let at = 0; !inline && at < blob.stored.length; at += CHUNK_BYTES) {
      chunks.push(blob.stored.subarray(at, at + CHUNK_BYTES));
    }
    await db.query(PUT_POSTGRES_BLOB, [
      blob.workspaceId,
      blob.sha256,
      blob.sizeBytes,
      blob.contentType,
      inline ? blob.stored : null,
      blob.compression,
      blob.stored.length,
      chunks,
    ]);
  },

  read(row) {
    if (row.content) return Promise.resolve(row.content);
    return Promise.resolve(row.chunks.length ? Buffer.concat(row.chunks) : undefined);
  },

  // A blob's chunks are deleted with its row (ON DELETE CASCADE).
  collectOrphans: () => Promise.resolve(0),
  close: () => Promise.resolve(),
};
