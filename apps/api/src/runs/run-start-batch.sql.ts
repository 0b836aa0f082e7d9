import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { ContentStore, type BlobBackend } from '#libs/cas';
import type { Permission } from '#libs/auth';
import { preparedStatement, type GroupOutcome } from '#libs/db';
import { envelope, type EventCodec } from '#libs/events';
import { insertOutboxRows } from '#libs/outbox';
import type { EagerRows } from '../eager-outbox.js';
import { ProblemError } from '#libs/platform';
import { claimKeys, releaseKeys, replayAnswer, storeAnswers, type KeyClaim } from '../idempotency-keys.sql.js';

export interface StartRunRequest {
  readonly workspaceId: string;
  readonly workflowId: string;
  readonly input: unknown;
  readonly tag: string | null;
  /** The permission of the key that started the run: its nodes' results are cached and served per permission. */
  readonly permission: Permission;
  readonly idempotencyKey: string | undefined;
  readonly requestHash: string;
  /** W3C trace context of the POST (traceparent/tracestate), carried by the run.requested event's headers. */
  readonly traceHeaders?: Readonly<Record<string, string>> | undefined;
}

export interface RunAccepted {
  readonly runId: string;
  readonly workflowVersion: number;
}

export interface RunStartOptions {
  /** Publish the run.requested rows right after the commit; absent: the relays do. */
  readonly eager?: EagerRows | undefined;
  /** An input larger than this (as JSON) goes to content-addressed storage, in this transaction; the event refers to it. */
  readonly inlineMaxBytes: number;
  /** Where a spilled input's bytes go; its row is written in this transaction whatever the backend. */
  readonly blobs: BlobBackend;
}

// The runs pin their workflow's latest version in the statement that inserts them (one round trip, not a read and a
// write); a request whose workflow the workspace does not have inserts nothing.
const INSERT_RUNS = preparedStatement(
  'runs.insert-started',
  `INSERT INTO runs (id, workspace_id, workflow_id, workflow_version, input, tag, permission)
   SELECT u.id, u.workspace_id, u.workflow_id, w.latest_version, u.input, u.tag, u.permission
     FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::jsonb[], $5::text[], $6::text[])
          AS u(id, workspace_id, workflow_id, input, tag, permission)
     JOIN workflows w ON w.id = u.workflow_id AND w.workspace_id = u.workspace_id
   RETURNING id, workflow_version`,
);

/**
 * Starts a batch of runs in the caller's transaction with a handful of set-based statements: Idempotency-Keys, the
 * runs with their pinned versions, their run.requested outbox rows and the stored answers. One outcome per request.
 */
export async function writeRunStarts(
  client: PoolClient,
  codec: EventCodec,
  requests: readonly StartRunRequest[],
  options: RunStartOptions,
): Promise<GroupOutcome<RunAccepted>[]> {
  const { eager } = options;
  const outcomes: (GroupOutcome<RunAccepted> | undefined)[] = requests.map(() => undefined);
  const keyed = requests.flatMap((request, index) =>
    request.idempotencyKey === undefined ? [] : [{ request, index }],
  );
  const won = await claimKeys(
    client,
    keyed.map(({ request }) => claimOf(request)),
  );
  keyed.forEach(({ request, index }, i) => {
    if (!won.has(i))
      outcomes[index] = {
        kind: 'after_commit',
        run: (c) => replayAnswer<RunAccepted>(c, claimOf(request), 'run request'),
      };
  });

  const live = requests.flatMap((request, index) => (outcomes[index] ? [] : [{ request, index, runId: randomUUID() }]));
  const { rows } = live.length
    ? await client.query<{ id: string; workflow_version: number }>(
        INSERT_RUNS.with([
          live.map((l) => l.runId),
          live.map((l) => l.request.workspaceId),
          live.map((l) => l.request.workflowId),
          live.map((l) => JSON.stringify(l.request.input)),
          live.map((l) => l.request.tag),
          live.map((l) => l.request.permission),
        ]),
      )
    : { rows: [] };
  const versions = new Map(rows.map((r) => [r.id, r.workflow_version]));
  const starts = live.flatMap(({ request, index, runId }) => {
    const workflowVersion = versions.get(runId);
    if (workflowVersion === undefined) {
      outcomes[index] = { kind: 'failed', error: new ProblemError('not_found', `no workflow ${request.workflowId}`) };
      return [];
    }
    const accepted: RunAccepted = { runId, workflowVersion };
    outcomes[index] = { kind: 'done', value: accepted };
    return [{ request, accepted }];
  });
  await releaseKeys(
    client,
    keyed.filter(({ index }) => outcomes[index]?.kind === 'failed').map(({ request }) => claimOf(request)),
  );
  if (!starts.length) return outcomes as GroupOutcome<RunAccepted>[];

  const content = new ContentStore(client, options.blobs);
  const inserted = await insertOutboxRows(
    client,
    await Promise.all(
      starts.map(async ({ request, accepted }) => {
        const input = await content.spill(request.workspaceId, JSON.stringify(request.input), options.inlineMaxBytes);
        return codec.outboxRow(
          'run.requested',
          accepted.runId,
          {
            // The first event of the run's key.
            ...envelope(1, request.workspaceId),
            type: 'run.requested',
            runId: accepted.runId,
            workflowId: request.workflowId,
            workflowVersion: accepted.workflowVersion,
            inputJson: input.json,
            inputRef: input.ref,
            tag: request.tag,
            permission: request.permission,
          },
          request.traceHeaders,
        );
      }),
    ),
    eager ? { publishAfterMs: eager.publishAfterMs } : {},
  );
  eager?.publish(inserted);
  await storeAnswers(
    client,
    starts
      .filter((s) => s.request.idempotencyKey !== undefined)
      .map((s) => ({ ...claimOf(s.request), body: s.accepted })),
  );
  return outcomes as GroupOutcome<RunAccepted>[];
}

const claimOf = (request: StartRunRequest): KeyClaim => ({
  workspaceId: request.workspaceId,
  scope: `runs:${request.workflowId}`,
  key: request.idempotencyKey as string,
  requestHash: request.requestHash,
});
