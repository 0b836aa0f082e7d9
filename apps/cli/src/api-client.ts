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

/** Turns a problem+json (or any) error response into a CliError `<title>: <detail>`. */
async function problem(response: Response): Promise<CliError> {
  const text = await response.text();
  let message = `HTTP ${response.status}`;
  try {
    const body = JSON.parse(text) as { title?: string; detail?: string; errors?: string[] };
    message = [body.title ?? message, body.detail].filter(Boolean).join(': ');
    if (body.errors?.length) message += ` (${body.errors.join('; ')})`;
  } catch {
    if (text.trim()) message += `: ${text.trim().slice(0, 300)}`;
  }
  return new CliError(message, exitCodeOf(response.status));
}

export async function apiFetch(
  options: ApiOptions,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  const url = new URL(path, options.apiUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(`cannot reach the API at ${options.apiUrl}: ${cause?.code ?? cause?.message ?? String(error)}`);
  }
  if (!response.ok) throw await problem(response);
  return response;
}

export async function apiJson<T>(
  options: ApiOptions,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<T> {
  const response = await apiFetch(options, method, path, body, headers);
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** Reads a text/event-stream body event by event (comments and keep-alives skipped) until the server closes it. */
export async function* sseEvents(response: Response): AsyncGenerator<SseEvent> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  let current: { id?: string; event?: string; data: string[] } = { data: [] };
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer[newline] === '\r' ? 2 : 1));
      if (line === '') {
        if (current.data.length) {
          yield {
            ...(current.id !== undefined ? { id: current.id } : {}),
            ...(current.event !== undefined ? { event: current.event } : {}),
            data: current.data.join('\n'),
          };
        }
        current = { data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') current.data.push(value);
      else if (field === 'id') current.id = value;
      else if (field === 'event') current.event = value;
    }
  }
}
