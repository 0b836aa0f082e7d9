import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './generated/api-types.js';
// The module itself, not the library's index (which brings pg along): this client also runs in the browser.
import { parseLsn } from '../../db/src/wal-lsn.js';

export type ApiClient = Client<paths>;
export type { paths };

export interface ApiClientOptions {
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`. */
  readonly apiKey?: string | undefined;
  readonly fetch?: typeof globalThis.fetch;
  /**
   * Read your own writes when the API reads from a replica (true when absent): the newest Consistency-Token a write
   * answered is sent on every later request, so a read never misses what this client wrote.
   */
  readonly readYourWrites?: boolean;
}

/** A client typed by the OpenAPI document: paths, parameters, bodies and answers checked at compile time. */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/$/, ''),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const { apiKey } = options;
  if (apiKey) {
    client.use({
      onRequest: ({ request }) => {
        request.headers.set('authorization', `Bearer ${apiKey}`);
        return request;
      },
    });
  }
  if (options.readYourWrites ?? true) {
    let newest: { token: string; lsn: bigint } | undefined;
    client.use({
      onRequest: ({ request }) => {
        if (newest && !request.headers.has('consistency-token')) request.headers.set('consistency-token', newest.token);
        return request;
      },
      onResponse: ({ response }) => {
        const token = response.headers.get('consistency-token');
        const lsn = parseLsn(token);
        // Concurrent writes answer in any order: the furthest position covers them all.
        if (token && lsn !== undefined && (!newest || lsn > newest.lsn)) newest = { token, lsn };
        return response;
      },
    });
  }
  return client;
}
