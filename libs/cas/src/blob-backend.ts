import type { Pool } from 'pg';
import type { Compression, EncodedBlob } from './blob-encoding.js';

/** A pool, or a client inside a transaction so that a blob's row commits with the row that references it. */
export type Queryable = Pick<Pool, 'query'>;

/** A blob's metadata row as read, with its Postgres chunks (none when its bytes are inline or elsewhere). */
export interface BlobRow {
  readonly workspaceId: string;
  readonly sha256: string;
  readonly contentType: string;
  readonly sizeBytes: number;
  readonly backend: BlobBackend['kind'];
  readonly compression: Compression;
  readonly content: Buffer | null;
  readonly chunks: readonly Buffer[];
}

/**
 * Where the bytes of content-addressed blobs live. Metadata is always a cas_blobs row in Postgres (references,
 * workspace scoping and the collector are SQL); a backend stores the encoded bytes and writes that row in the order
 * its storage needs, so that a committed row always has its bytes.
 */
export interface BlobBackend {
  readonly kind: 'postgres' | 's3';
  /**
   * Stores a blob unless its workspace holds it already, and its row with `db`. Existing bytes are never rewritten:
   * storing them again only refreshes the row's `last_put_at` (hourly).
   */
  put(db: Queryable, blob: EncodedBlob): Promise<void>;
  /** The stored bytes of a row this backend wrote; undefined when they are gone. */
  read(row: BlobRow): Promise<Buffer | undefined>;
  /**
   * Deletes bytes no row names any more that were written more than `olderThanMs` ago, at most `limit` blobs; returns
   * how many. The blob collector deletes rows only, so that no row ever outlives its bytes; this runs after it.
   */
  collectOrphans(pool: Pool, olderThanMs: number, limit: number): Promise<number>;
  close(): Promise<void>;
}
