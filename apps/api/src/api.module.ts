import { Module } from '@nestjs/common';

/** The public HTTP API: workflows, patches, runs, approvals (issues 3 and 4 add the routes). */
@Module({})
export class ApiModule {}
