import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

/**
 * Whether nothing more can be written to a response: it was ended, or the client left. Under h2c (HTTP_H2C) the raw
 * response is an Http2ServerResponse, which has no `destroyed` of its own: its stream has.
 */
export function responseGone(raw: ServerResponse | Http2ServerResponse): boolean {
  if (raw.writableEnded) return true;
  return 'stream' in raw ? raw.stream.destroyed : raw.destroyed;
}
