import { Controller, Get, Headers, Param, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Requires, type AuthenticatedRequest } from '#libs/auth';
import { EventStreams } from './event-streams.service.js';
import { lastEventId, requireUuid } from './request-params.js';
import { RUN_EVENTS_ROUTE, WORKFLOW_EVENTS_ROUTE } from './stream-routes.js';

/**
 * GET /v1/runs/{id}/events and GET /v1/workflows/{id}/events as Server-Sent Events. Errors before the stream starts
 * (401, 404, a bad Last-Event-ID) are problem+json through the usual filter; `@Res()` then leaves the response to
 * EventStreams, which hijacks it.
 */
@Controller()
export class EventStreamsController {
  constructor(private readonly streams: EventStreams) {}

  @Get(RUN_EVENTS_ROUTE)
  @Requires('read')
  async runEvents(
    @Req() request: AuthenticatedRequest,
    @Res() reply: FastifyReply,
    @Param('id') id: string,
    @Headers('last-event-id') header: string | undefined,
    @Query('lastEventId') query: string | undefined,
  ): Promise<void> {
    const after = lastEventId(header, query);
    const subject = await this.streams.runSubject(request.principal.workspaceId, requireUuid(id, 'run'));
    this.streams.serve(reply, subject, after, request.principal.workspaceId);
  }

  @Get(WORKFLOW_EVENTS_ROUTE)
  @Requires('read')
  async workflowEvents(
    @Req() request: AuthenticatedRequest,
    @Res() reply: FastifyReply,
    @Param('id') id: string,
    @Headers('last-event-id') header: string | undefined,
    @Query('lastEventId') query: string | undefined,
  ): Promise<void> {
    const after = lastEventId(header, query);
    const subject = await this.streams.workflowSubject(request.principal.workspaceId, requireUuid(id, 'workflow'));
    this.streams.serve(reply, subject, after, request.principal.workspaceId);
  }
}
