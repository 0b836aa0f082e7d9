import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AppConfig } from '#libs/config';
import { CONFIG, ProblemError } from '#libs/platform';
import { validateDefinition, validatePatchOps } from '#libs/workflows';
import { Requires, type AuthenticatedRequest } from '#libs/auth';
import { PatchWriter } from './patch-writer.js';
import { hashBody, idempotencyKey, positiveInt, requireObject, requireUuid } from '../request-checks.js';
import { WorkflowsRepository, type PatchView, type WorkflowVersionView } from './workflows.repository.js';

@Controller('v1/workflows')
export class WorkflowsController {
  constructor(
    private readonly workflows: WorkflowsRepository,
    private readonly patches: PatchWriter,
    @Inject(CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @Requires('write')
  async create(@Req() request: AuthenticatedRequest, @Body() body: unknown): Promise<{ id: string; version: 1 }> {
    const { name, definition } = requireObject(body);
    if (typeof name !== 'string' || !name.trim() || name.length > 200) {
      throw new ProblemError('validation_failed', 'name must be a non-empty string of at most 200 characters');
    }
    const checked = validateDefinition(definition, {
      allowedHosts: this.config.SSRF_ALLOWED_HOSTS,
      maxBytes: this.config.DEFINITION_MAX_BYTES,
      maxDepth: this.config.JSON_MAX_DEPTH,
    });
    if (!checked.ok) throw new ProblemError('validation_failed', 'the definition is invalid', checked.errors);
    return this.workflows.create(request.principal.workspaceId, name.trim(), checked.value);
  }

  @Get(':id')
  @Requires('read')
  async latest(@Req() request: AuthenticatedRequest, @Param('id') id: string): Promise<WorkflowVersionView> {
    const found = await this.workflows.getVersion(request.principal.workspaceId, requireUuid(id, 'workflow'));
    if (!found) throw new ProblemError('not_found', `no workflow ${id}`);
    return found;
  }

  @Get(':id/versions/:version')
  @Requires('read')
  async version(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
    @Param('version') version: string,
  ): Promise<WorkflowVersionView> {
    const number = Number(version);
    const found =
      Number.isInteger(number) && number > 0
        ? await this.workflows.getVersion(request.principal.workspaceId, requireUuid(id, 'workflow'), number)
        : undefined;
    if (!found) throw new ProblemError('not_found', `workflow ${id} has no version ${version}`);
    return found;
  }

  /** 202 once the patch and its event are committed; the materializer decides it later (GET the Location). */
  @Post(':id/patches')
  @Requires('write')
  async patch(
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Param('id') id: string,
    @Body() body: unknown,
    @Headers('idempotency-key') keyHeader: string | undefined,
  ): Promise<{ patchId: string; seq: number; status: 'pending' }> {
    const workflowId = requireUuid(id, 'workflow');
    const key = idempotencyKey(keyHeader);
    const ops = validatePatchOps(requireObject(body).ops);
    if (!ops.ok) throw new ProblemError('validation_failed', 'the patch operations are invalid', ops.errors);
    const accepted = await this.patches.submit({
      workspaceId: request.principal.workspaceId,
      workflowId,
      ops: ops.value,
      idempotencyKey: key,
      requestHash: hashBody(ops.value),
    });
    void reply.status(202).header('location', `/v1/workflows/${workflowId}/patches/${accepted.patchId}`);
    return { patchId: accepted.patchId, seq: accepted.seq, status: 'pending' };
  }

  @Get(':id/patches/:patchId')
  @Requires('read')
  async patchStatus(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
    @Param('patchId') patchId: string,
  ): Promise<PatchView> {
    const found = await this.workflows.getPatch(
      request.principal.workspaceId,
      requireUuid(id, 'workflow'),
      requireUuid(patchId, 'patch'),
    );
    if (!found) throw new ProblemError('not_found', `no patch ${patchId} on workflow ${id}`);
    return found;
  }

  /** The history, oldest first; `after` is the last seq of the previous page. */
  @Get(':id/patches')
  @Requires('read')
  async history(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
    @Query('after') after: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<{ patches: PatchView[]; next: string | null }> {
    const size = Math.max(1, positiveInt(limit, 'limit', 100, 1000));
    const patches = await this.workflows.listPatches(
      request.principal.workspaceId,
      requireUuid(id, 'workflow'),
      positiveInt(after, 'after', 0, Number.MAX_SAFE_INTEGER),
      size,
    );
    if (!patches) throw new ProblemError('not_found', `no workflow ${id}`);
    const last = patches.at(-1);
    return {
      patches,
      next: patches.length === size && last ? `/v1/workflows/${id}/patches?after=${last.seq}&limit=${size}` : null,
    };
  }
}
