import { Controller, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  cancelRun,
  decideApproval,
  getRun,
  getRunTimeline,
  listRuns,
  listWorkflowRuns,
  startRun,
  type RouteInput,
  type RouteOutput,
} from '#libs/api-contract';
import { Input, ServesRoute, type AuthenticatedRequest } from '#libs/auth';
import type { AppConfig } from '#libs/config';
import { CONFIG, ProblemError } from '#libs/platform';
import { decodeCursor, nextPage } from '../page-cursor.js';
import { hashBody } from '../request-checks.js';
import { nodeTimelines } from './run-timeline.js';
import { RunsRepository } from './runs.repository.js';
import type { RunFilter } from './runs.sql.js';

type RunListQuery = RouteInput<typeof listWorkflowRuns>['query'];

@Controller()
export class RunsController {
  constructor(
    private readonly runs: RunsRepository,
    @Inject(CONFIG) private readonly config: AppConfig,
  ) {}

  /** 202 once the run and its run.requested event are committed; GET the Location to follow it. */
  @ServesRoute(startRun)
  async start(
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Input(startRun) { params, headers, body }: RouteInput<typeof startRun>,
  ): Promise<RouteOutput<typeof startRun>> {
    const { input, tag } = body;
    const inputBytes = Buffer.byteLength(JSON.stringify(input));
    if (inputBytes > this.config.RUN_INPUT_MAX_BYTES) {
      throw new ProblemError(
        'payload_too_large',
        `input is ${inputBytes} bytes as JSON; at most ${this.config.RUN_INPUT_MAX_BYTES} (RUN_INPUT_MAX_BYTES)`,
      );
    }
    const accepted = await this.runs.start({
      workspaceId: request.principal.workspaceId,
      workflowId: params.id,
      input,
      tag: tag ?? null,
      permission: request.principal.permission,
      idempotencyKey: headers['idempotency-key'],
      requestHash: hashBody({ input, tag }),
    });
    void reply.header('location', `/v1/runs/${accepted.runId}`);
    const token = await this.runs.consistencyToken();
    if (token) void reply.header('consistency-token', token);
    return accepted;
  }

  @ServesRoute(listRuns)
  async list(
    @Req() request: AuthenticatedRequest,
    @Input(listRuns) { query, headers }: RouteInput<typeof listRuns>,
  ): Promise<RouteOutput<typeof listRuns>> {
    return this.page(request, listRuns.path, query, query.workflowId, headers['consistency-token']);
  }

  @ServesRoute(listWorkflowRuns)
  async listOfWorkflow(
    @Req() request: AuthenticatedRequest,
    @Input(listWorkflowRuns) { params, query, headers }: RouteInput<typeof listWorkflowRuns>,
  ): Promise<RouteOutput<typeof listWorkflowRuns>> {
    const token = headers['consistency-token'];
    if (!(await this.runs.workflowExists(request.principal.workspaceId, params.id, token))) {
      throw new ProblemError('not_found', `no workflow ${params.id}`);
    }
    return this.page(request, `/v1/workflows/${params.id}/runs`, query, params.id, token);
  }

  @ServesRoute(getRun)
  async read(
    @Req() request: AuthenticatedRequest,
    @Input(getRun) { params, headers }: RouteInput<typeof getRun>,
  ): Promise<RouteOutput<typeof getRun>> {
    const run = await this.runs.read(request.principal.workspaceId, params.id, headers['consistency-token']);
    if (!run) throw new ProblemError('not_found', `no run ${params.id}`);
    return run;
  }

  @ServesRoute(getRunTimeline)
  async timeline(
    @Req() request: AuthenticatedRequest,
    @Input(getRunTimeline) { params, headers }: RouteInput<typeof getRunTimeline>,
  ): Promise<RouteOutput<typeof getRunTimeline>> {
    const events = await this.runs.events(request.principal.workspaceId, params.id, headers['consistency-token']);
    if (!events) throw new ProblemError('not_found', `no run ${params.id}`);
    return { runId: params.id, events, nodes: nodeTimelines(events) };
  }

  @ServesRoute(cancelRun)
  async cancel(
    @Req() request: AuthenticatedRequest,
    @Input(cancelRun) { params, body }: RouteInput<typeof cancelRun>,
  ): Promise<RouteOutput<typeof cancelRun>> {
    await this.runs.cancel(request.principal.workspaceId, params.id, body.reason ?? null);
    return { runId: params.id, status: 'cancelling' };
  }

  @ServesRoute(decideApproval)
  async approve(
    @Req() request: AuthenticatedRequest,
    @Input(decideApproval) { params, body }: RouteInput<typeof decideApproval>,
  ): Promise<RouteOutput<typeof decideApproval>> {
    await this.runs.decide(request.principal.workspaceId, params.id, params.nodeId, {
      approved: body.approved,
      comment: body.comment ?? null,
      decider: request.principal,
    });
    return { runId: params.id, nodeId: params.nodeId, approved: body.approved };
  }

  private async page(
    request: AuthenticatedRequest,
    path: string,
    query: RunListQuery,
    workflowId: string | undefined,
    token: string | undefined,
  ): Promise<RouteOutput<typeof listRuns>> {
    const filter: RunFilter = {
      workflowId,
      status: query.status,
      tag: query.tag,
      since: query.since,
      after: decodeCursor(query.after),
      limit: query.limit,
    };
    const rows = await this.runs.list(request.principal.workspaceId, filter, token);
    const filters = { status: query.status, tag: query.tag, since: query.since };
    return {
      runs: rows.map(({ cursor: _, ...run }) => run),
      next: nextPage(path, path === listRuns.path ? { ...filters, workflowId } : filters, rows, query.limit),
    };
  }
}
