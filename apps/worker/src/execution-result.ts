/**
 * One node attempt's result: a failure (a bad expression, an HTTP 500, a 429 from the model) is a value, not a throw.
 * `fromCache`: an answer the semantic cache served (see NodeResult).
 */
export type ExecutionResult = { ok: true; output: unknown; fromCache?: true } | { ok: false; error: string };

export const failure = (error: string): ExecutionResult => ({ ok: false, error });
