import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { before } from 'node:test';
import { S3BlobBackend, type Queryable } from '#libs/cas';
import type { TestContext } from './test-context.js';

/**
 * The S3-compatible server the S3 tests run against: CAS_S3_ENDPOINT and its keys when the environment names one, else
 * the S3Proxy that `npm test` starts (infra/s3proxy, signing with its local key pair).
 */
export const TEST_S3 = {
  endpoint: process.env.CAS_S3_ENDPOINT ?? 'http://127.0.0.1:8090',
  region: process.env.CAS_S3_REGION ?? 'us-east-1',
  credentials: {
    accessKeyId: process.env.CAS_S3_ACCESS_KEY_ID ?? 'local-identity',
    secretAccessKey: process.env.CAS_S3_SECRET_ACCESS_KEY ?? 'local-credential',
  },
} as const;

/** Problems reaching the test S3 server, for the global setup: the S3 tests fail rather than skip without it. */
export async function s3Unreachable(): Promise<string[]> {
  try {
    // Any HTTP answer (S3Proxy refuses an unsigned request with 403) means it serves requests.
    await fetch(`${TEST_S3.endpoint}/`, { signal: AbortSignal.timeout(3_000) });
    return [];
  } catch (error) {
    return [`S3 at ${TEST_S3.endpoint}: ${(error as Error).message} (infra/s3proxy/s3proxy.sh start)`];
  }
}

const client = (): S3Client =>
  new S3Client({ ...TEST_S3, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });

/**
 * An S3 backend over a bucket of the test file's own (created before its tests; emptied and removed after them),
 * with `ledger` holding its upload list. Closed before the leak check.
 */
export function useTestBucket(ctx: TestContext, ledger: () => Queryable): () => S3BlobBackend {
  const bucket = `t-${ctx.id.replace(/_/g, '-')}`.slice(0, 63);
  let backend: S3BlobBackend | undefined;
  before(async () => {
    const admin = client();
    try {
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      admin.destroy();
    }
    backend = new S3BlobBackend({ ...TEST_S3, bucket, prefix: 'cas', forcePathStyle: true }, ledger());
    ctx.defer(async () => {
      await backend?.close();
      await removeBucket(bucket);
    });
  });
  return () => {
    if (!backend) throw new Error('the test bucket is created before the tests');
    return backend;
  };
}

async function removeBucket(bucket: string): Promise<void> {
  const admin = client();
  try {
    for (;;) {
      const { Contents = [] } = await admin.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = Contents.map((o) => o.Key!);
      // S3Proxy's filesystem backend lists its directories as keys ending in '/', and deleting one that still holds
      // objects stalled the DeleteObjects request for 20-30 s: objects first, then whatever directories are left.
      const objects = keys.filter((key) => !key.endsWith('/'));
      const batch = objects.length ? objects : keys.sort((a, b) => b.length - a.length);
      if (!batch.length) break;
      await admin.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })) } }),
      );
    }
    await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    admin.destroy();
  }
}
