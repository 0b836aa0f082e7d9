import { z } from 'zod';
import {
  patchOpsSchema,
  workflowDefinitionSchema,
  type PatchOperation,
  type WorkflowDefinition,
} from '#libs/workflows';
import {
  consistencyHeaders,
  idempotencyHeaders,
  idParam,
  limitQuery,
  nextLink,
  timestamp,
  uuid,
  writeConsistencyHeaders,
} from '../common.js';
import { EXAMPLE_IDS } from '../example-ids.js';
import { defineRoute } from '../route.js';

/**
 * The definition is checked in depth by `validateDefinition` (shape with this JSON Schema, then expressions, hosts and
 * the graph); the document shows the same schema object.
 */
export const definitionSchema = z
  .custom<WorkflowDefinition>(() => true)
  .meta({ id: 'WorkflowDefinition', override: workflowDefinitionSchema });

const patchOps = z.custom<PatchOperation[]>(() => true).meta({ id: 'PatchOperations', override: patchOpsSchema });

const EXAMPLE_DEFINITION = {
  nodes: {
    shape: { type: 'function', config: { expression: '{"greeting": "hello " & input.name}' } },
    review: { type: 'hitl', config: { prompt: 'Send {{nodes.shape.greeting}}?' } },
  },
  edges: [{ from: 'shape', to: 'review' }],
};

const workflowParams = z.object({ id: idParam('workflow') });
const versionParams = z.object({
  id: idParam('workflow'),
  version: z.coerce
    .number({ error: 'no such version' })
    .int({ error: 'no such version' })
    .min(1, { error: 'no such version' }),
});

export const workflowVersionSchema = z
  .object({
    id: uuid,
    name: z.string(),
    version: z.int().min(1),
    definition: definitionSchema,
    appliedThroughSeq: z.int().min(0).meta({ description: 'The last patch seq this version includes.' }),
    createdAt: timestamp,
  })
  .meta({ id: 'WorkflowVersion' });

export const workflowSummarySchema = z
  .object({
    id: uuid,
    name: z.string(),
    version: z.int().min(1).meta({ description: 'The latest materialized version.' }),
    createdAt: timestamp,
    updatedAt: timestamp.meta({ description: 'When the latest version was materialized.' }),
  })
  .meta({ id: 'WorkflowSummary' });

const patchBase = { patchId: uuid, seq: z.int().min(1), createdAt: timestamp };
export const patchSchema = z
  .discriminatedUnion('status', [
    z.object({ ...patchBase, status: z.literal('pending') }),
    z.object({ ...patchBase, status: z.literal('applied'), version: z.int().min(1), decidedAt: timestamp }),
    z.object({ ...patchBase, status: z.literal('rejected'), reason: z.string(), decidedAt: timestamp }),
  ])
  .meta({ id: 'Patch' });

export const createWorkflow = defineRoute({
  operationId: 'createWorkflow',
  method: 'post',
  path: '/v1/workflows',
  tag: 'workflows',
  summary: 'Create a workflow (version 1)',
  access: 'write',
  body: z.object({
    name: z
      .string()
      .trim()
      .min(1, { error: 'must be a non-empty string of at most 200 characters' })
      .max(200, { error: 'must be a non-empty string of at most 200 characters' }),
    definition: definitionSchema,
  }),
  status: 201,
  response: {
    description: 'Created, with its first version.',
    schema: z.object({ id: uuid, version: z.literal(1) }),
    headers: writeConsistencyHeaders,
  },
  problems: [400, 413, 422],
  example: { body: { name: 'greeter', definition: EXAMPLE_DEFINITION } },
});

export const listWorkflows = defineRoute({
  operationId: 'listWorkflows',
  method: 'get',
  path: '/v1/workflows',
  tag: 'workflows',
  summary: "The workspace's workflows, newest first",
  access: 'read',
  query: z.object({
    q: z.string().max(200).optional().meta({ description: 'Only workflows whose name contains this (any case).' }),
    after: z.string().max(200).optional().meta({ description: "The previous page's cursor (from its next link)." }),
    limit: limitQuery,
  }),
  headers: consistencyHeaders,
  status: 200,
  response: {
    description: 'A page of workflows.',
    schema: z.object({ workflows: z.array(workflowSummarySchema), next: nextLink }),
  },
  problems: [400],
  example: { query: { q: 'greet', limit: '20' } },
});

export const getWorkflow = defineRoute({
  operationId: 'getWorkflow',
  method: 'get',
  path: '/v1/workflows/{id}',
  tag: 'workflows',
  summary: 'The latest materialized version',
  access: 'read',
  params: workflowParams,
  headers: consistencyHeaders,
  status: 200,
  response: { description: 'The latest version.', schema: workflowVersionSchema },
  problems: [404],
  example: { params: { id: EXAMPLE_IDS.workflow } },
});

export const getWorkflowVersion = defineRoute({
  operationId: 'getWorkflowVersion',
  method: 'get',
  path: '/v1/workflows/{id}/versions/{version}',
  tag: 'workflows',
  summary: 'One version',
  access: 'read',
  params: versionParams,
  headers: consistencyHeaders,
  status: 200,
  response: { description: 'That version.', schema: workflowVersionSchema },
  problems: [404],
  example: { params: { id: EXAMPLE_IDS.workflow, version: '1' } },
});

export const submitPatch = defineRoute({
  operationId: 'submitPatch',
  method: 'post',
  path: '/v1/workflows/{id}/patches',
  tag: 'workflows',
  summary: 'Submit RFC 6902 patch operations (accepted, then materialized)',
  description:
    '202 once the patch and its event are durable; a materializer applies or rejects it later: GET the Location, or ' +
    "watch the workflow's events.",
  access: 'write',
  params: workflowParams,
  headers: idempotencyHeaders,
  body: z.object({ ops: patchOps }),
  status: 202,
  response: {
    description: 'Accepted; its Location is the patch.',
    schema: z.object({ patchId: uuid, seq: z.int().min(1), status: z.literal('pending') }),
    headers: writeConsistencyHeaders,
  },
  problems: [400, 404, 413, 422],
  example: {
    params: { id: EXAMPLE_IDS.workflow },
    body: { ops: [{ op: 'replace', path: '/nodes/review/config/prompt', value: 'Send it?' }] },
  },
});

export const getPatch = defineRoute({
  operationId: 'getPatch',
  method: 'get',
  path: '/v1/workflows/{id}/patches/{patchId}',
  tag: 'workflows',
  summary: "A patch's status",
  access: 'read',
  params: z.object({ id: idParam('workflow'), patchId: idParam('patch') }),
  headers: consistencyHeaders,
  status: 200,
  response: { description: 'Pending, applied (in which version) or rejected (why).', schema: patchSchema },
  problems: [404],
  example: { params: { id: EXAMPLE_IDS.workflow, patchId: EXAMPLE_IDS.patch } },
});

export const listPatches = defineRoute({
  operationId: 'listPatches',
  method: 'get',
  path: '/v1/workflows/{id}/patches',
  tag: 'workflows',
  summary: "A workflow's patches, oldest first",
  access: 'read',
  params: workflowParams,
  query: z.object({
    after: z.coerce
      .number({ error: 'must be a patch seq' })
      .int({ error: 'must be a patch seq' })
      .min(0, { error: 'must be a patch seq' })
      .default(0)
      .meta({ description: 'The last seq of the previous page.' }),
    limit: limitQuery,
  }),
  headers: consistencyHeaders,
  status: 200,
  response: { description: 'A page of patches.', schema: z.object({ patches: z.array(patchSchema), next: nextLink }) },
  problems: [400, 404],
  example: { params: { id: EXAMPLE_IDS.workflow }, query: { limit: '50' } },
});

export const sourcePatchSchema = z
  .object({
    patchId: uuid,
    seq: z.int().min(1),
    ops: patchOps,
    status: z.enum(['pending', 'applied', 'rejected']),
    version: z.int().min(1).optional().meta({ description: 'The version that applied it.' }),
    reason: z.string().optional().meta({ description: 'Why it was rejected.' }),
    createdAt: timestamp,
  })
  .meta({ id: 'SourcePatch' });

/** The most patches one answer carries; a client with more asks again from a later snapshot. */
export const MAX_SOURCE_PATCHES = 10_000;

export const getMaterializationSource = defineRoute({
  operationId: 'getMaterializationSource',
  method: 'get',
  path: '/v1/workflows/{id}/materialization',
  tag: 'workflows',
  summary: 'A snapshot and the patches after it, for a client to materialize on its own',
  description:
    'The latest snapshot at or below `version` (the latest by default) and every patch after it in sequence order ' +
    '(applied, rejected and pending), with the options the materializers fold with: folding the patches onto the ' +
    'snapshot with `foldPatches` of libs/workflows gives what the materializers give. The ETag changes when a patch ' +
    'arrives or is decided; send it back as If-None-Match for a 304.',
  access: 'read',
  params: workflowParams,
  query: z.object({
    version: z.coerce
      .number({ error: 'must be a version number' })
      .int({ error: 'must be a version number' })
      .min(1, { error: 'must be a version number' })
      .optional()
      .meta({ description: 'The snapshot is the latest version at or below this one.' }),
  }),
  headers: z.object({ 'if-none-match': z.string().max(200).optional() }),
  status: 200,
  response: {
    description: 'The snapshot and the patches after it.',
    schema: z
      .object({
        workflowId: uuid,
        latestVersion: z.int().min(1),
        snapshot: workflowVersionSchema,
        patches: z.array(sourcePatchSchema),
        truncated: z.boolean().meta({ description: `More than ${MAX_SOURCE_PATCHES} patches follow the snapshot.` }),
        foldOptions: z.object({
          maxBytes: z.int(),
          maxDepth: z.int(),
          allowedHosts: z.array(z.string()),
        }),
      })
      .meta({ id: 'MaterializationSource' }),
  },
  notModified: true,
  problems: [400, 404],
  example: { params: { id: EXAMPLE_IDS.workflow }, query: { version: '1' } },
});

export const getVersionDiff = defineRoute({
  operationId: 'getVersionDiff',
  method: 'get',
  path: '/v1/workflows/{id}/versions/{version}/diff',
  tag: 'workflows',
  summary: 'What a version changed: RFC 6902 operations from the previous version, and the patches it applied',
  access: 'read',
  params: versionParams,
  status: 200,
  response: {
    description: 'Version 1 has no previous version and no operations.',
    schema: z
      .object({
        workflowId: uuid,
        version: z.int().min(1),
        previous: z.int().min(1).nullable(),
        ops: z
          .custom<PatchOperation[]>(() => true)
          .meta({
            description: 'Applied to the previous definition, they give this one (any number, none for version 1).',
            override: { type: 'array', items: (patchOpsSchema as { items: object }).items },
          }),
        appliedPatches: z.array(z.object({ patchId: uuid, seq: z.int().min(1) })),
      })
      .meta({ id: 'VersionDiff' }),
  },
  problems: [404],
  example: { params: { id: EXAMPLE_IDS.workflow, version: '1' } },
});

export const WORKFLOW_ROUTES = [
  getVersionDiff,
  getMaterializationSource,
  createWorkflow,
  listWorkflows,
  getWorkflow,
  getWorkflowVersion,
  submitPatch,
  getPatch,
  listPatches,
] as const;
