import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Requires, type AuthenticatedRequest } from '#libs/auth';
import type { AppConfig } from '#libs/config';
import { CONFIG, ProblemError } from '#libs/platform';
import { hashBody, idempotencyKey, requireObject, requireUuid } from '../request-checks.js';
import { RunsRepository, type RunAccepted } from './runs.repository.js';
import type { RunView } from './runs.sql.js';

const TAG = /^[A-Za-z0-9_.-]{1,64}$/;

@Controller('v1')
export class RunsController {
  constructor(
    private readonly runs: RunsRepository,
    @Inject(CONFIG) private readonly config: AppConfig,
  ) {}

  /** 202 once the run and its run.requested event are committed; GET the Location to follow it. */
  @Post('workflows/:id/runs')
  @Requires('write')
  async start(
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Param('id') id: string,
    @Body() body: unknown,
    @Headers('idempotency-key') keyHeader: string | undefined,
  ): Promise<RunAccepted> {
    const workflowId = requireUuid(id, 'workflow');
    const key = idempotencyKey(keyHeader);
    const { input = {}, tag } = body === undefined || body === null ? {} : requireObject(body);
    if (tag !== undefined && (typeof tag !== 'string' || !TAG.test(tag))) {
      // Tags label metrics (workflows_started_total{tag}), so they must stay short and few.
      throw new ProblemError('validation_failed', 'tag must be 1 to 64 characters of A-Z, a-z, 0-9, _, ., -');
    }
    const inputBytes = Buffer.byteLength(JSON.stringify(input));
    if (inputBytes > this.config.RUN_INPUT_MAX_BYTES) {
      throw new ProblemError(
        'payload_too_large',
        `input is ${inputBytes} bytes as JSON; at most ${this.config.RUN_INPUT_MAX_BYTES} (RUN_INPUT_MAX_BYTES)`,
      );
    }
    const accepted = await this.runs.start({
      workspaceId: request.principal.workspaceId,
      workflowId,
      input,
      tag: tag ?? null,
      permission: request.principal.permission,
      idempotencyKey: key,
      requestHash: hashBody({ input, tag }),
    });
    void reply.status(202).header('location', `/v1/runs/${accepted.runId}`);
    return accepted;
  }

  @Get('runs/:id')
  @Requires('read')
  async read(@Req() request: AuthenticatedRequest, @Param('id') id: string): Promise<RunView> {
    const run = await this.runs.read(request.principal.workspaceId, requireUuid(id, 'run'));
    if (!run) throw new ProblemError('not_found', `no run ${id}`);
    return run;
  }

  @Post('runs/:id/cancel')
  @HttpCode(202)
  @Requires('write')
  async cancel(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
    @Body() body: unknown,
  ): Promise<{ runId: string; status: 'cancelling' }> {
    const runId = requireUuid(id, 'run');
    const { reason } = body === undefined || body === null ? {} : requireObject(body);
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1000)) {
      throw new ProblemError('validation_failed', 'reason must be a string of at most 1000 characters');
    }
    await this.runs.cancel(request.principal.workspaceId, runId, reason ?? null);
    return { runId, status: 'cancelling' };
  }

  @Post('runs/:id/nodes/:nodeId/approval')
  @HttpCode(202)
  @Requires('write')
  async approve(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
    @Param('nodeId') nodeId: string,
    @Body() body: unknown,
  ): Promise<{ runId: string; nodeId: string; approved: boolean }> {
    const runId = requireUuid(id, 'run');
    const { approved, comment } = requireObject(body);
    if (typeof approved !== 'boolean') throw new ProblemError('validation_failed', 'approved must be true or false');
    if (comment !== undefined && (typeof comment !== 'string' || comment.length > 2000)) {
      throw new ProblemError('validation_failed', 'comment must be a string of at most 2000 characters');
    }
    await this.runs.decide(request.principal.workspaceId, runId, nodeId, {
      approved,
      comment: comment ?? null,
      decider: request.principal,
    });
    return { runId, nodeId, approved };
  }
}
