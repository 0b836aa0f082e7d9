import { Module } from '@nestjs/common';

/** Executes node.dispatch.<type> tasks (issue 4 adds the executors). */
@Module({})
export class WorkerModule {}
