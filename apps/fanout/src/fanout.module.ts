import { Module } from '@nestjs/common';

/** Serves run and workflow events as Server-Sent Events (issue 4 adds the streams). */
@Module({})
export class FanoutModule {}
