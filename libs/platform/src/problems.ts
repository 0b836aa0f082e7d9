import type { ProblemCode } from '#libs/api-contract';

export { problemBody, PROBLEM_STATUS, type ProblemBody, type ProblemCode } from '#libs/api-contract';

export interface ProblemOptions {
  /** What went wrong underneath: logged by the filter, never sent (it may name tables, hosts or users). */
  readonly cause?: unknown;
  /** Sent as Retry-After. */
  readonly retryAfterSeconds?: number;
}

export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly errors?: readonly string[],
    options: ProblemOptions = {},
  ) {
    super(`${code}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
