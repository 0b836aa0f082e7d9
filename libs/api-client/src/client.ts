import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './generated/api-types.js';

export type ApiClient = Client<paths>;
export type { paths };

export interface ApiClientOptions {
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`. */
  readonly apiKey?: string | undefined;
  readonly fetch?: typeof globalThis.fetch;
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
  return client;
}
