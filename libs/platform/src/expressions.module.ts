import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '#libs/config';
import { ExpressionEvaluator } from '#libs/expressions';
import { CONFIG } from './tokens.js';

/** One pool of expression threads per process, shared by the roles it runs (coordinator, worker). */
@Module({
  providers: [
    {
      provide: ExpressionEvaluator,
      inject: [CONFIG],
      useFactory: (config: AppConfig) =>
        new ExpressionEvaluator({
          timeoutMs: config.EXPRESSION_TIMEOUT_MS,
          maxDepth: 500,
          threads: config.EXPRESSION_THREADS,
          maxHeapMb: config.EXPRESSION_MAX_HEAP_MB,
          maxResultBytes: config.EXPRESSION_MAX_RESULT_BYTES,
        }),
    },
  ],
  exports: [ExpressionEvaluator],
})
export class ExpressionsModule implements OnApplicationShutdown {
  constructor(@Inject(ExpressionEvaluator) private readonly evaluator: ExpressionEvaluator) {}

  onApplicationShutdown(): Promise<void> {
    return this.evaluator.close();
  }
}
