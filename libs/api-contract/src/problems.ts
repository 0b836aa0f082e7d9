import { z } from 'zod';

/**
 * The closed set of errors the HTTP edge reports, each with its status (RFC 7807 problem+json). Part of the public
 * contract: clients branch on `type`, which is derived from the code.
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
export type ProblemStatus = (typeof PROBLEM_STATUS)[ProblemCode];

export const PROBLEM_TITLES: Record<ProblemCode, string> = {
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

export const problemType = (code: ProblemCode): string => `urn:orchestrator:problem:${code.replaceAll('_', '-')}`;

export const problemSchema = z
  .looseObject({
    type: z.string().meta({ example: problemType('not_found') }),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.string()).optional().meta({ description: 'Every problem found, as `<where>: <what>`.' }),
  })
  .meta({ id: 'Problem', description: 'RFC 7807 problem details.' });

export type ProblemBody = z.infer<typeof problemSchema>;

export function problemBody(
  code: ProblemCode,
  detail: string,
  instance?: string,
  errors?: readonly string[],
): ProblemBody {
  return {
    type: problemType(code),
    title: PROBLEM_TITLES[code],
    status: PROBLEM_STATUS[code],
    detail,
    ...(instance ? { instance } : {}),
    ...(errors?.length ? { errors: [...errors] } : {}),
  };
}

/** Which codes answer with a status, for documenting a route's failures by status. */
export function codesWithStatus(status: number): ProblemCode[] {
  return (Object.keys(PROBLEM_STATUS) as ProblemCode[]).filter((code) => PROBLEM_STATUS[code] === status);
}
