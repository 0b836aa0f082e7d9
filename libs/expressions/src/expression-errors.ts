/**
 * A user expression that cannot give an answer: bad syntax, a type error, a regex the linear engine refuses. Its
 * message names the expression, so a run's events say which one.
 */
export class ExpressionError extends Error {
  override readonly name: string = 'ExpressionError';
  constructor(
    readonly expression: string,
    detail: string,
  ) {
    super(`${detail} in "${expression.slice(0, 200)}"`);
  }

  /** jsonata throws plain objects ({code, message, position}); this gives them a message worth showing a user. */
  static fromJsonata(expression: string, cause: unknown): ExpressionError {
    return new ExpressionError(expression, describeJsonataError(cause));
  }
}

/**
 * An expression stopped because it went past a limit (time, memory, result size, nesting). Unlike an ExpressionError
 * its outcome depends on the machine and its load, so it is never read as a falsy answer: it fails what it decides.
 */
export class ExpressionLimitError extends ExpressionError {
  override readonly name = 'ExpressionLimitError';
}

export function describeJsonataError(cause: unknown): string {
  const { message, code, position } = (typeof cause === 'object' && cause !== null ? cause : {}) as {
    message?: unknown;
    code?: unknown;
    position?: unknown;
  };
  const where = typeof position === 'number' ? ` at position ${position}` : '';
  const text = typeof message === 'string' ? message : String(cause);
  return `${typeof code === 'string' ? `${code}: ` : ''}${text}${where}`;
}
