import { Module } from '@nestjs/common';

/** Folds patch.created batches into workflow versions (issue 3 adds the consumer). */
@Module({})
export class MaterializerModule {}
