import type { AppConfig } from '#libs/config';
import type { BlobBackend, Queryable } from './blob-backend.js';
import { postgresBlobBackend } from './postgres-blob-backend.js';
import { S3BlobBackend } from './s3-blob-backend.js';

type CasConfig = Pick<
  AppConfig,
  | 'CAS_BACKEND'
  | 'CAS_S3_ENDPOINT'
  | 'CAS_S3_BUCKET'
  | 'CAS_S3_REGION'
  | 'CAS_S3_ACCESS_KEY_ID'
  | 'CAS_S3_SECRET_ACCESS_KEY'
  | 'CAS_S3_FORCE_PATH_STYLE'
  | 'CAS_S3_PREFIX'
>;

/** The backend CAS_BACKEND names; `pool` holds the S3 upload list (cas_s3_objects), outside callers' transactions. */
export function blobBackendFromConfig(config: CasConfig, pool: Queryable): BlobBackend {
  if (config.CAS_BACKEND === 'postgres') return postgresBlobBackend;
  return new S3BlobBackend(
    {
      endpoint: config.CAS_S3_ENDPOINT,
      region: config.CAS_S3_REGION,
      // The config schema requires the bucket with CAS_BACKEND=s3.
      bucket: config.CAS_S3_BUCKET!,
      prefix: config.CAS_S3_PREFIX,
      forcePathStyle: config.CAS_S3_FORCE_PATH_STYLE,
      credentials:
        config.CAS_S3_ACCESS_KEY_ID && config.CAS_S3_SECRET_ACCESS_KEY
          ? { accessKeyId: config.CAS_S3_ACCESS_KEY_ID, secretAccessKey: config.CAS_S3_SECRET_ACCESS_KEY }
          : undefined,
    },
    pool,
  );
}
