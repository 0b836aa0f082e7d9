import { Module } from '@nestjs/common';
import { MaterializerController } from './materializer.controller.js';
import { MaterializerService } from './materializer.service.js';

/** Folds patch.created batches into workflow versions. */
@Module({ controllers: [MaterializerController], providers: [MaterializerService] })
export class MaterializerModule {}
