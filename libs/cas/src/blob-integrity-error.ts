/**
 * Stored bytes that do not hash to the digest their blob is named by (flipped by the disk, overwritten in the bucket,
 * cut short), cannot be decompressed, or are gone while their metadata row is there. A reader gets this instead of
 * the bytes: content-addressed storage never hands out what its reference does not name.
 */
export class BlobIntegrityError extends Error {
  override readonly name = 'BlobIntegrityError';

  constructor(
    readonly workspaceId: string,
    readonly sha256: string,
    readonly reason: 'digest mismatch' | 'undecodable' | 'bytes missing',
  ) {
    super(`content sha256:${sha256} of workspace ${workspaceId} failed its integrity check: ${reason}`);
  }
}
