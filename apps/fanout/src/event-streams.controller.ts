import { Controller, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { runEvents, workflowEvents, type RouteInput } from '#libs/api-contract';
import { Input, ServesRoute, type AuthenticatedRequest } from '#libs/auth';
import { EventStreams } from './event-streams.service.js';
import { lastEventId } from './request-params.js';

/**
 * GET /v1/runs/{id}/events and GET /v1/workflows/{id}/events as Server-Sent Events. Errors before the stream starts
 * (401, 404, a bad Last-Event-ID) are problem+json through the usual filter; `@Res()` then leaves the response to
 * EventStreams, which hijacks it.
 */
@Controller()
export class EventStreamsController {
  constructor(private readonly streams: EventStreams) {}

  @ServesRoute(runEvents)
  async runEvents(
    @Req() request: AuthenticatedRequest,
    @Res() reply: FastifyReply,
    @Input(runEvents) { params, headers, query }: RouteInput<typeof runEvents>,
  ): Promise<void> {
    const after = lastEventId(headers['last-event-id'], query.lastEventId);
    const subject = await this.streams.runSubject(request.principal.workspaceId, params.id);
    this.streams.serve(reply, subject, after, request.principal.workspaceId);
  }

  @ServesRoute(workflowEvents)
  async workflowEvents(
    @Req() request: AuthenticatedRequest,
    @Res() reply: FastifyReply,
    @Input(workflowEvents) { params, headers, query }: RouteInput<typeof workflowEvents>,
  ): Promise<void> {
    const after = lastEventId(headers['last-event-id'], query.lastEventId);
    const subject = await this.streams.workflowSubject(request.principal.workspaceId, params.id);
    this.streams.serve(reply, subject, after, request.principal.workspaceId);
  }
}
