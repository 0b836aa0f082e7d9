import jsonata from 'jsonata';

type Compiled = ReturnType<typeof jsonata>;

/**
 * Evaluates JSONata (edge conditions in the coordinator, `function` nodes in the worker). Compiling is far dearer
 * than evaluating, and a workflow's expressions repeat on every run, so compiled expressions are kept; a time and
 * stack limit stops a runaway expression (`$map` over a huge range, deep recursion) from stalling a whole partition.
 */
export class ExpressionEvaluator {
  private readonly compiled = new Map<string, Compiled>();

  constructor(
    private readonly limits: { timeoutMs: number; maxDepth: number } = { timeoutMs: 1_000, maxDepth: 500 },
    private readonly maxCompiled = 10_000,
  ) {}

  async evaluate(expression: string, data: unknown): Promise<unknown> {
    try {
      return await this.compile(expression).evaluate(data);
    } catch (error) {
      throw new ExpressionError(expression, error);
    }
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

/** jsonata throws plain objects ({code, message, position}); this gives them a message worth showing a user. */
export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';
  constructor(expression: string, cause: unknown) {
    const { message, code, position } = (typeof cause === 'object' && cause !== null ? cause : {}) as {
      message?: unknown;
      code?: unknown;
      position?: unknown;
    };
    const where = typeof position === 'number' ? ` at position ${position}` : '';
    const text = typeof message === 'string' ? message : String(cause);
    super(`${typeof code === 'string' ? `${code}: ` : ''}${text}${where} in "${expression.slice(0, 200)}"`);
  }
}
