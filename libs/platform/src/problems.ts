/**
 * The closed set of errors the HTTP edge reports, each with its status (RFC 7807 problem+json). Domain code throws
 * ProblemError with a code; only the filter knows about HTTP.
 */
export const PROBLEM_STATUS = {
  malformed_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  unsupported_media_type: 415,
  conflict: 409,
  validation_failed: 422,
  idempotency_key_reused: 422,
  rate_limited: 429,
  dependency_unavailable: 503,
  overloaded: 503,
  internal: 500,
} as const;

export type ProblemCode = keyof typeof PROBLEM_STATUS;

const TITLES: Record<ProblemCode, string> = {
  malformed_request: 'Malformed request',
  unauthenticated: 'Missing or invalid API key',
  forbidden: 'Not allowed with this API key',
  not_found: 'Not found',
  payload_too_large: 'Request body too large',
  unsupported_media_type: 'Unsupported media type',
  conflict: 'Conflicts with the current state',
  validation_failed: 'Validation failed',
  idempotency_key_reused: 'Idempotency-Key reused with a different request',
  rate_limited: 'Too many requests',
  dependency_unavailable: 'A dependency is unavailable',
  overloaded: 'Too many requests waiting; retry later',
  internal: 'Internal error',
};

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

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: readonly string[];
}

export function problemBody(
  code: ProblemCode,
  detail: string,
  instance?: string,
  errors?: readonly string[],
): ProblemBody {
  return {
    type: `urn:orchestrator:problem:${code.replaceAll('_', '-')}`,
    title: TITLES[code],
    status: PROBLEM_STATUS[code],
    detail,
    ...(instance ? { instance } : {}),
    ...(errors?.length ? { errors } : {}),
  };
}
