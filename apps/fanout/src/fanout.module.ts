import { Module } from '@nestjs/common';
import { AuthModule } from '#libs/auth';
import { EventStreamsController } from './event-streams.controller.js';
import { EventStreams } from './event-streams.service.js';

/**
 * Serves run and workflow events as Server-Sent Events: history from Postgres, then live from one Kafka consumer per
 * process. Reads need a `read` API key of the subject's workspace.
 */
@Module({ imports: [AuthModule], controllers: [EventStreamsController], providers: [EventStreams] })
export class FanoutModule {}
