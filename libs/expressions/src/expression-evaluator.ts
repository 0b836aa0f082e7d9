import jsonata from 'jsonata';
import { ExpressionError } from './expression-errors.js';

type Compiled = ReturnType<typeof jsonata>;

export interface ExpressionLimits {
  timeoutMs: number;
  maxDepth: number;
  threads?: number;
  maxHeapMb?: number;
  maxResultBytes?: number;
}

/**
 * Evaluates JSONata (edge conditions in the coordinator, `function` nodes in the worker). Compiling is far dearer
 * than evaluating, and a workflow's expressions repeat on every run, so compiled expressions are kept; a time and
 * stack limit stops a runaway expression (`$map` over a huge range, deep recursion) from stalling a whole partition.
 */
export class ExpressionEvaluator {
  private readonly compiled = new Map<string, Compiled>();

  constructor(
    private readonly limits: ExpressionLimits = { timeoutMs: 1_000, maxDepth: 500 },
    private readonly maxCompiled = 10_000,
  ) {}

  async evaluate(expression: string, data: unknown): Promise<unknown> {
    try {
      return await this.compile(expression).evaluate(data);
    } catch (error) {
      throw ExpressionError.fromJsonata(expression, error);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private compile(expression: string): Compiled {
    let compiled = this.compiled.get(expression);
    if (!compiled) {
      compiled = jsonata(expression, { timeout: this.limits.timeoutMs, stack: this.limits.maxDepth });
      if (this.compiled.size >= this.maxCompiled) this.compiled.clear();
      this.compiled.set(expression, compiled);
    }
    return compiled;
  }
}
