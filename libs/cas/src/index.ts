export { ContentStore, type SpilledJson } from './content-store.js';
export type { BlobBackend, Queryable } from './blob-backend.js';
export { blobBackendFromConfig } from './blob-backend-from-config.js';
export { BlobIntegrityError } from './blob-integrity-error.js';
export { CHUNK_BYTES, postgresBlobBackend } from './postgres-blob-backend.js';
export { PART_BYTES, S3BlobBackend, type S3Settings } from './s3-blob-backend.js';
