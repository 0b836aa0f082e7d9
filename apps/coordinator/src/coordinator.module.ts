import { Module } from '@nestjs/common';

/** Advances runs from run.requested and node.completed (issue 4 adds the consumer). */
@Module({})
export class CoordinatorModule {}
