import { createHash } from 'node:crypto';
import { Controller, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  createWorkflow,
  getMaterializationSource,
  getPatch,
  getVersionDiff,
  MAX_SOURCE_PATCHES,
  getWorkflow,
  getWorkflowVersion,
  listPatches,
  listWorkflows,
  submitPatch,
  type RouteInput,
  type RouteOutput,
} from '#libs/api-contract';
import { Input, ServesRoute, type AuthenticatedRequest } from '#libs/auth';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import { CONFIG, PG_POOL, ProblemError } from '#libs/platform';
import { diffDefinitions, validateDefinition, validatePatchOps } from '#libs/workflows';
import { decodeCursor, nextPage } from '../page-cursor.js';
import { hashBody } from '../request-checks.js';
import { readPatchesAfter, readSnapshot, readVersionPair } from './materialization-source.sql.js';
import { PatchWriter } from './patch-writer.js';
import { WorkflowsRepository } from './workflows.repository.js';

@Controller()
export class WorkflowsController {
  constructor(
    private readonly workflows: WorkflowsRepository,
    private readonly patches: PatchWriter,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  @ServesRoute(createWorkflow)
  async create(
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Input(createWorkflow) { body }: RouteInput<typeof createWorkflow>,
  ): Promise<RouteOutput<typeof createWorkflow>> {
    const checked = validateDefinition(body.definition, {
      allowedHosts: this.config.SSRF_ALLOWED_HOSTS,
      maxBytes: this.config.DEFINITION_MAX_BYTES,
      maxDepth: this.config.JSON_MAX_DEPTH,
    });
    if (!checked.ok) throw new ProblemError('validation_failed', 'the definition is invalid', checked.errors);
    const created = await this.workflows.create(request.principal.workspaceId, body.name, checked.value);
    await this.giveConsistencyToken(reply);
    return created;
  }

  @ServesRoute(listWorkflows)
  async list(
    @Req() request: AuthenticatedRequest,
    @Input(listWorkflows) { query, headers }: RouteInput<typeof listWorkflows>,
  ): Promise<RouteOutput<typeof listWorkflows>> {
    const rows = await this.workflows.listWorkflows(
      request.principal.workspaceId,
      { q: query.q, after: decodeCursor(query.after), limit: query.limit },
      headers['consistency-token'],
    );
    return {
      workflows: rows.map(({ cursor: _, ...workflow }) => workflow),
      next: nextPage(listWorkflows.path, { q: query.q }, rows, query.limit),
    };
  }

  @ServesRoute(getWorkflow)
  async latest(
    @Req() request: AuthenticatedRequest,
    @Input(getWorkflow) { params, headers }: RouteInput<typeof getWorkflow>,
  ): Promise<RouteOutput<typeof getWorkflow>> {
    const found = await this.workflows.getVersion(
      request.principal.workspaceId,
      params.id,
      undefined,
      headers['consistency-token'],
    );
    if (!found) throw new ProblemError('not_found', `no workflow ${params.id}`);
    return found;
  }

  @ServesRoute(getWorkflowVersion)
  async version(
    @Req() request: AuthenticatedRequest,
    @Input(getWorkflowVersion) { params, headers }: RouteInput<typeof getWorkflowVersion>,
  ): Promise<RouteOutput<typeof getWorkflowVersion>> {
    const found = await this.workflows.getVersion(
      request.principal.workspaceId,
      params.id,
      params.version,
      headers['consistency-token'],
    );
    if (!found) throw new ProblemError('not_found', `workflow ${params.id} has no version ${params.version}`);
    return found;
  }

  @ServesRoute(getVersionDiff)
  async diff(
    @Req() request: AuthenticatedRequest,
    @Input(getVersionDiff) { params }: RouteInput<typeof getVersionDiff>,
  ): Promise<RouteOutput<typeof getVersionDiff>> {
    const pair = await readVersionPair(this.pool, request.principal.workspaceId, params.id, params.version);
    if (!pair) throw new ProblemError('not_found', `workflow ${params.id} has no version ${params.version}`);
    return {
      workflowId: params.id,
      version: params.version,
      previous: pair.previous ? params.version - 1 : null,
      ops: pair.previous ? diffDefinitions(pair.previous, pair.definition) : [],
      appliedPatches: pair.applied,
    };
  }

  /** 202 once the patch and its event are committed; the materializer decides it later (GET the Location). */
  @ServesRoute(submitPatch)
  async patch(
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Input(submitPatch) { params, headers, body }: RouteInput<typeof submitPatch>,
  ): Promise<RouteOutput<typeof submitPatch>> {
    const ops = validatePatchOps(body.ops);
    if (!ops.ok) throw new ProblemError('validation_failed', 'the patch operations are invalid', ops.errors);
    const accepted = await this.patches.submit({
      workspaceId: request.principal.workspaceId,
      workflowId: params.id,
      ops: ops.value,
      idempotencyKey: headers['idempotency-key'],
      requestHash: hashBody(ops.value),
    });
    void reply.header('location', `/v1/workflows/${params.id}/patches/${accepted.patchId}`);
    await this.giveConsistencyToken(reply);
    return { patchId: accepted.patchId, seq: accepted.seq, status: 'pending' };
  }

  @ServesRoute(getPatch)
  async patchStatus(
    @Req() request: AuthenticatedRequest,
    @Input(getPatch) { params, headers }: RouteInput<typeof getPatch>,
  ): Promise<RouteOutput<typeof getPatch>> {
    const found = await this.workflows.getPatch(
      request.principal.workspaceId,
      params.id,
      params.patchId,
      headers['consistency-token'],
    );
    if (!found) throw new ProblemError('not_found', `no patch ${params.patchId} on workflow ${params.id}`);
    return found;
  }

  /** The history, oldest first; `after` is the last seq of the previous page. */
  @ServesRoute(listPatches)
  async history(
    @Req() request: AuthenticatedRequest,
    @Input(listPatches) { params, query, headers }: RouteInput<typeof listPatches>,
  ): Promise<RouteOutput<typeof listPatches>> {
    const patches = await this.workflows.listPatches(
      request.principal.workspaceId,
      params.id,
      query.after,
      query.limit,
      headers['consistency-token'],
    );
    if (!patches) throw new ProblemError('not_found', `no workflow ${params.id}`);
    const last = patches.at(-1);
    return {
      patches,
      next:
        patches.length === query.limit && last
          ? `/v1/workflows/${params.id}/patches?after=${last.seq}&limit=${query.limit}`
          : null,
    };
  }

  /** What a client folds on its own (the console, in a Web Worker): a snapshot and the patches after it. */
  @ServesRoute(getMaterializationSource)
  async source(
    @Req() request: AuthenticatedRequest,
    @Res() reply: FastifyReply,
    @Input(getMaterializationSource) { params, query, headers }: RouteInput<typeof getMaterializationSource>,
  ): Promise<void> {
    const snapshot = await readSnapshot(this.pool, request.principal.workspaceId, params.id, query.version);
    if (!snapshot) throw new ProblemError('not_found', `no workflow ${params.id}`);
    const patches = await readPatchesAfter(this.pool, params.id, snapshot.appliedThroughSeq, MAX_SOURCE_PATCHES + 1);
    const truncated = patches.length > MAX_SOURCE_PATCHES;
    if (truncated) patches.length = MAX_SOURCE_PATCHES;
    // Changes exactly when the answer would: another snapshot, a new patch, a patch decided.
    const etag = `"${createHash('sha256')
      .update(JSON.stringify([snapshot.version, snapshot.latestVersion, patches.map((p) => [p.seq, p.status])]))
      .digest('base64url')
      .slice(0, 27)}"`;
    void reply.header('etag', etag).header('cache-control', 'private, no-cache');
    if (headers['if-none-match'] === etag) {
      await reply.status(304).send();
      return;
    }
    const body: RouteOutput<typeof getMaterializationSource> = {
      workflowId: params.id,
      latestVersion: snapshot.latestVersion,
      snapshot: {
        id: params.id,
        name: snapshot.name,
        version: snapshot.version,
        definition: snapshot.definition,
        appliedThroughSeq: snapshot.appliedThroughSeq,
        createdAt: snapshot.createdAt,
      },
      patches,
      truncated,
      foldOptions: {
        maxBytes: this.config.DEFINITION_MAX_BYTES,
        maxDepth: this.config.JSON_MAX_DEPTH,
        allowedHosts: [...this.config.SSRF_ALLOWED_HOSTS],
      },
    };
    await reply.status(200).send(body);
  }

  /** The write has committed: a client reading from a replica sends this back to see it. */
  private async giveConsistencyToken(reply: FastifyReply): Promise<void> {
    const token = await this.workflows.consistencyToken();
    if (token) void reply.header('consistency-token', token);
  }
}
