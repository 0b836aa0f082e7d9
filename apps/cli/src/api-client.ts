import { createApiClient, requestEventStream, type ApiClient } from '#libs/api-client';
import { CliError, EXIT } from './cli-support.js';

export interface ApiOptions {
  apiUrl: string;
  apiKey?: string;
}

/** Exit code for an HTTP error status: 401/403 unauthorized, 404 not found, anything else a failed operation. */
export function exitCodeOf(status: number): number {
  if (status === 401 || status === 403) return EXIT.unauthorized;
  if (status === 404) return EXIT.notFound;
  return EXIT.failed;
}

/** A problem+json (or any) error answer as a CliError `<title>: <detail> (<errors>)`. */
export function problemError(status: number, body: unknown): CliError {
  let message = `HTTP ${status}`;
  if (body && typeof body === 'object') {
    const problem = body as { title?: string; detail?: string; errors?: string[] };
    message = [problem.title ?? message, problem.detail].filter(Boolean).join(': ');
    if (problem.errors?.length) message += ` (${problem.errors.join('; ')})`;
  } else if (typeof body === 'string' && body.trim()) {
    message += `: ${body.trim().slice(0, 300)}`;
  }
  return new CliError(message, exitCodeOf(status));
}

const unreachable = (options: ApiOptions, error: unknown): CliError => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return new CliError(`cannot reach the API at ${options.apiUrl}: ${cause?.code ?? cause?.message ?? String(error)}`);
};

/** The typed API client for the command's --api-url and --api-key. */
export const apiClient = (options: ApiOptions): ApiClient =>
  createApiClient({ baseUrl: options.apiUrl, apiKey: options.apiKey });

/**
 * Awaits a typed client call and returns its data, or throws a CliError: the API's problem for an error status, "cannot
 * reach the API" when no answer came.
 */
export async function call<T>(
  options: ApiOptions,
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: Awaited<typeof request>;
  try {
    result = await request;
  } catch (error) {
    throw unreachable(options, error);
  }
  if (!result.response.ok) throw problemError(result.response.status, result.error);
  return result.data as T;
}

/** An event stream's response (the typed client does not model streams), or "cannot reach the API". */
export async function openStream(
  options: ApiOptions,
  path: string,
  lastEventId: string | undefined,
  signal?: AbortSignal,
): Promise<Response> {
  try {
    return await requestEventStream({ baseUrl: options.apiUrl, apiKey: options.apiKey, path }, lastEventId, signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    throw unreachable(options, error);
  }
}
