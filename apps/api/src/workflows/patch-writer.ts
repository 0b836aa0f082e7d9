import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '#libs/config';
import { GroupCommit, type GroupOutcome, type Pool } from '#libs/db';
import type { EventCodec } from '#libs/events';
import { CONFIG, EVENT_CODEC, PG_POOL, ProblemError } from '#libs/platform';
import { withRequestTrace } from '#libs/tracing';
import { OutboxWaker, SKIP_OUTBOX_TRIGGER } from '#libs/outbox';
import { EagerOutbox } from '../eager-outbox.js';
import { replayAnswer } from '../idempotency-keys.sql.js';
import { storeFailure, tooManyWaiting } from '../store-failure.js';
import {
  patchKeyClaim,
  writePatchBatch,
  type AcceptedPatch,
  type BatchOutcome,
  type PatchRequest,
} from './patch-batch.sql.js';

/**
 * Patch POSTs through group commit: under load many 202s share one transaction; each resolves only after its
 * transaction committed (202 means durable).
 */
@Injectable()
export class PatchWriter {
  private readonly commits: GroupCommit<PatchRequest, AcceptedPatch>;

  constructor(
    @Inject(PG_POOL) pool: Pool,
    @Inject(EVENT_CODEC) codec: EventCodec,
    @Inject(CONFIG) config: AppConfig,
    eager: EagerOutbox,
  ) {
    const waker = new OutboxWaker(pool);
    this.commits = new GroupCommit(pool, {
      maxBatch: config.PATCH_WRITE_MAX_BATCH,
      maxConcurrent: 3,
      // Committing many batches a second, these transactions must not queue on NOTIFY's commit lock. Their rows are
      // published right after the commit (eager), else one coalesced wake-up of the relays does the job.
      begin: SKIP_OUTBOX_TRIGGER,
      ...(eager.enabled ? {} : { afterCommit: () => waker.wake() }),
      maxQueued: config.GROUP_COMMIT_MAX_QUEUED,
      overloaded: tooManyWaiting('patches'),
      unavailable: storeFailure('patch'),
      write: async (client, requests, afterCommit) =>
        (await writePatchBatch(client, codec, requests, eager.rows(afterCommit))).map((outcome, index) =>
          toGroupOutcome(outcome, requests[index] as PatchRequest),
        ),
    });
  }

  submit(request: PatchRequest): Promise<AcceptedPatch> {
    // The batch is written in another request's async context: each request brings its own trace context along.
    return this.commits.submit(withRequestTrace(request));
  }
}

function toGroupOutcome(outcome: BatchOutcome, request: PatchRequest): GroupOutcome<AcceptedPatch> {
  if (outcome.kind === 'accepted') return { kind: 'done', value: outcome.patch };
  if (outcome.kind === 'not_found') {
    return { kind: 'failed', error: new ProblemError('not_found', `no workflow ${request.workflowId}`) };
  }
  return {
    kind: 'after_commit',
    run: (client) => replayAnswer<AcceptedPatch>(client, patchKeyClaim(request), 'patch'),
  };
}
