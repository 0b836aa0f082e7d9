import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { constants, zstdCompress, zstdDecompress } from 'node:zlib';
import { BlobIntegrityError } from './blob-integrity-error.js';

const compress = promisify(zstdCompress);
const decompress = promisify(zstdDecompress);

export type Compression = 'none' | 'zstd';

/** A blob as a backend stores it: its identity, what it is, and its bytes as encoded. */
export interface EncodedBlob {
  readonly workspaceId: string;
  readonly sha256: string;
  readonly contentType: string;
  readonly sizeBytes: number;
  readonly compression: Compression;
  readonly stored: Buffer;
}

/**
 * Compression must save at least this share to be kept: below it (JSON already gzipped by its source, random ids,
 * images) every read would pay for decompression to save next to nothing.
 */
const MIN_SAVING = 0.05;

export const sha256Hex = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Zstandard at its default level (fast to write, fast to read, about gzip's ratio or better); raw when it does not pay. */
export async function encodeBlob(
  workspaceId: string,
  sha256: string,
  content: Buffer,
  contentType: string,
): Promise<EncodedBlob> {
  const base = { workspaceId, sha256, contentType, sizeBytes: content.length };
  const packed = await compress(content, { params: { [constants.ZSTD_c_compressionLevel]: 3 } });
  return packed.length <= content.length * (1 - MIN_SAVING)
    ? { ...base, compression: 'zstd', stored: packed }
    : { ...base, compression: 'none', stored: content };
}

/**
 * The content of stored bytes, checked against the digest it is named by. Decompression stops past the recorded size,
 * so a corrupted or forged frame cannot inflate without bound.
 */
export async function decodeBlob(
  key: { readonly workspaceId: string; readonly sha256: string },
  compression: Compression,
  sizeBytes: number,
  stored: Buffer,
): Promise<Buffer> {
  let content = stored;
  if (compression === 'zstd') {
    try {
      content = await decompress(stored, { maxOutputLength: Math.max(sizeBytes, 1) });
    } catch {
      throw new BlobIntegrityError(key.workspaceId, key.sha256, 'undecodable');
    }
  }
  if (content.length !== sizeBytes || sha256Hex(content) !== key.sha256) {
    throw new BlobIntegrityError(key.workspaceId, key.sha256, 'digest mismatch');
  }
  return content;
}
