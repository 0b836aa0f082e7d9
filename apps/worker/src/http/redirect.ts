import type { HttpMethod } from '#libs/workflows';

/** What to send next: one hop of a request chain. Header names are lower case. */
export interface Hop {
  method: HttpMethod;
  url: URL;
  headers: Record<string, string>;
  body: string | undefined;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Sent only to the origin the workflow author named: a redirect elsewhere must not carry the credentials along. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];

/**
 * The hop a redirect response asks for, the way browsers follow it (Fetch standard): 303, and 301/302 after a POST,
 * become a GET without body; 307/308 repeat the request as it was. Null when the response is not a redirect.
 */
export function redirectHop(
  current: Hop,
  status: number,
  location: string | undefined,
): Hop | { error: string } | null {
  if (!REDIRECT_STATUSES.has(status) || location === undefined) return null;
  let url: URL;
  try {
    url = new URL(location, current.url);
  } catch {
    return { error: `redirect to an invalid URL: ${location}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { error: `redirect to a non-http URL: ${url.href}` };
  }

  const headers = { ...current.headers };
  if (url.origin !== current.url.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
  const becomesGet = status === 303 ? current.method !== 'HEAD' : status <= 302 && current.method === 'POST';
  if (!becomesGet) return { ...current, url, headers };
  delete headers['content-type'];
  return { method: 'GET', url, headers, body: undefined };
}
