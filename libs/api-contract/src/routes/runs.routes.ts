import { z } from 'zod';
import { NODE_STATUSES, RUN_STATUSES } from '#libs/runs';
import {
  consistencyHeaders,
  idempotencyHeaders,
  idParam,
  limitQuery,
  nextLink,
  tag,
  timestamp,
  uuid,
  uuidQuery,
  writeConsistencyHeaders,
} from '../common.js';
import { EXAMPLE_IDS } from '../example-ids.js';
import { defineRoute } from '../route.js';

export const nodeStateSchema = z
  .object({
    status: z.enum(NODE_STATUSES),
    attempts: z.int().min(0),
    output: z.unknown().optional(),
    outputRef: z.string().optional().meta({ description: 'sha256:<hex> of an output kept in content storage.' }),
    error: z.string().optional(),
    retryAt: z.number().optional().meta({ description: 'When a retry is due (ms since the epoch).' }),
    cached: z
      .object({
        fromRunId: uuid,
        fromNodeId: z.string(),
        producedAt: timestamp,
        savedMs: z.number(),
        match: z.enum(['exact', 'semantic']).optional(),
        similarity: z.number().optional(),
      })
      .optional()
      .meta({ description: 'Set when the output came from the node result cache.' }),
  })
  .meta({ id: 'NodeState' });

export const runSchema = z
  .object({
    id: uuid,
    workflowId: uuid,
    workflowVersion: z.int().min(1),
    status: z.enum(RUN_STATUSES),
    input: z.unknown(),
    nodes: z.record(z.string(), nodeStateSchema),
    output: z.unknown().optional().meta({ description: "The terminal nodes' outputs, once completed." }),
    error: z.string().optional(),
    createdAt: timestamp,
    finishedAt: timestamp.nullable(),
  })
  .meta({ id: 'Run' });

export const runSummarySchema = z
  .object({
    id: uuid,
    workflowId: uuid,
    workflowVersion: z.int().min(1),
    status: z.enum(RUN_STATUSES),
    tag: z.string().nullable(),
    createdAt: timestamp,
    finishedAt: timestamp.nullable(),
  })
  .meta({ id: 'RunSummary' });

const runParams = z.object({ id: idParam('run') });

const runFilters = {
  status: z.enum(RUN_STATUSES).optional(),
  tag: tag.optional(),
  since: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 time, such as 2026-12-01T00:00:00Z' })
    .optional()
    .meta({ description: 'Only runs created at or after this time.' }),
  after: z.string().max(200).optional().meta({ description: "The previous page's cursor (from its next link)." }),
  limit: limitQuery,
};

const runPage = z.object({ runs: z.array(runSummarySchema), next: nextLink });

export const startRun = defineRoute({
  operationId: 'startRun',
  method: 'post',
  path: '/v1/workflows/{id}/runs',
  tag: 'runs',
  summary: 'Start a run of the latest version',
  description: '202 once the run and its run.requested event are durable; follow it at the Location or its events.',
  access: 'write',
  params: z.object({ id: idParam('workflow') }),
  headers: idempotencyHeaders,
  body: z.object({
    input: z.unknown().default({}).meta({ description: 'The run input, reachable as `input` in expressions.' }),
    tag: tag.optional().meta({ description: 'A label for metrics and filters.' }),
  }),
  bodyOptional: true,
  status: 202,
  response: {
    description: 'Accepted; its Location is the run.',
    schema: z.object({ runId: uuid, workflowVersion: z.int().min(1) }),
    headers: writeConsistencyHeaders,
  },
  problems: [400, 404, 413, 422],
  example: { params: { id: EXAMPLE_IDS.workflow }, body: { input: { name: 'Ada' }, tag: 'docs' } },
});

export const listRuns = defineRoute({
  operationId: 'listRuns',
  method: 'get',
  path: '/v1/runs',
  tag: 'runs',
  summary: "The workspace's runs, newest first",
  access: 'read',
  query: z.object({ workflowId: uuidQuery('Only runs of this workflow.').optional(), ...runFilters }),
  headers: consistencyHeaders,
  status: 200,
  response: { description: 'A page of runs.', schema: runPage },
  problems: [400],
  example: { query: { status: 'waiting', limit: '20' } },
});

export const listWorkflowRuns = defineRoute({
  operationId: 'listWorkflowRuns',
  method: 'get',
  path: '/v1/workflows/{id}/runs',
  tag: 'runs',
  summary: "A workflow's runs, newest first",
  access: 'read',
  params: z.object({ id: idParam('workflow') }),
  query: z.object(runFilters),
  headers: consistencyHeaders,
  status: 200,
  response: { description: 'A page of runs.', schema: runPage },
  problems: [400, 404],
  example: { params: { id: EXAMPLE_IDS.workflow }, query: { tag: 'docs' } },
});

export const getRun = defineRoute({
  operationId: 'getRun',
  method: 'get',
  path: '/v1/runs/{id}',
  tag: 'runs',
  summary: 'A run and its nodes',
  access: 'read',
  params: runParams,
  headers: consistencyHeaders,
  status: 200,
  response: { description: 'The run as projected from its events.', schema: runSchema },
  problems: [404],
  example: { params: { id: EXAMPLE_IDS.run } },
});

export const cancelRun = defineRoute({
  operationId: 'cancelRun',
  method: 'post',
  path: '/v1/runs/{id}/cancel',
  tag: 'runs',
  summary: 'Cancel a run',
  access: 'write',
  params: runParams,
  body: z.object({ reason: z.string().max(1000, { error: 'must be at most 1000 characters' }).optional() }),
  bodyOptional: true,
  status: 202,
  response: {
    description: "Accepted; the run's coordinator cancels it (a finished run stays as it is).",
    schema: z.object({ runId: uuid, status: z.literal('cancelling') }),
  },
  problems: [404, 422],
  example: { params: { id: EXAMPLE_IDS.run }, body: { reason: 'no longer needed' } },
});

export const decideApproval = defineRoute({
  operationId: 'decideApproval',
  method: 'post',
  path: '/v1/runs/{id}/nodes/{nodeId}/approval',
  tag: 'runs',
  summary: 'Approve or reject a waiting hitl node',
  access: 'write',
  params: z.object({ id: idParam('run'), nodeId: z.string().max(64, { error: 'no such node' }) }),
  body: z.object({
    approved: z.boolean({ error: 'must be true or false' }),
    comment: z.string().max(2000, { error: 'must be at most 2000 characters' }).optional(),
  }),
  status: 202,
  response: {
    description: 'Accepted; the node completes with the decision as its output.',
    schema: z.object({ runId: uuid, nodeId: z.string(), approved: z.boolean() }),
  },
  problems: [403, 404, 409, 422],
  example: { params: { id: EXAMPLE_IDS.run, nodeId: 'review' }, body: { approved: true, comment: 'looks right' } },
});

export const runEventSchema = z
  .object({
    seq: z.int().min(1),
    kind: z.string().meta({ example: 'node.completed' }),
    status: z.string().meta({ description: "The run's status, or the node's for a node event." }),
    nodeId: z.string().nullable(),
    detail: z.unknown(),
    occurredAt: timestamp,
  })
  .meta({ id: 'RunEvent' });

export const getRunTimeline = defineRoute({
  operationId: 'getRunTimeline',
  method: 'get',
  path: '/v1/runs/{id}/timeline',
  tag: 'runs',
  summary: "A run's events in order and, per node, when it was dispatched and finished",
  description: 'From the projection (Postgres): it can be a moment behind the event stream.',
  access: 'read',
  params: runParams,
  headers: consistencyHeaders,
  status: 200,
  response: {
    description: 'The events numbered 1..n, and a line per node that ran.',
    schema: z
      .object({
        runId: uuid,
        events: z.array(runEventSchema),
        nodes: z.array(
          z.object({
            nodeId: z.string(),
            attempts: z.int().min(0),
            firstDispatchedAt: timestamp.nullable(),
            finishedAt: timestamp.nullable(),
            status: z.string().meta({ description: 'As of its last event.' }),
            durationMs: z.number().nullable().meta({ description: 'First dispatch to finish, retries included.' }),
          }),
        ),
      })
      .meta({ id: 'RunTimeline' }),
  },
  problems: [404],
  example: { params: { id: EXAMPLE_IDS.run } },
});

export const RUN_ROUTES = [
  getRunTimeline,
  startRun,
  listRuns,
  listWorkflowRuns,
  getRun,
  cancelRun,
  decideApproval,
] as const;
