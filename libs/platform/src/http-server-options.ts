import type { AppConfig } from '#libs/config';

type HttpRuntimeConfig = Pick<
  AppConfig,
  | 'HTTP_BODY_LIMIT_BYTES'
  | 'HTTP_NO_DELAY'
  | 'HTTP_TCP_KEEPALIVE'
  | 'HTTP_TCP_KEEPALIVE_DELAY_MS'
  | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'
  | 'HTTP_H2C'
>;

/** The Fastify options of the services' HTTP server (HTTP/1.1, or h2c with HTTP_H2C). */
export interface HttpServerOptions {
  readonly bodyLimit: number;
  readonly return503OnClosing: true;
  /**
   * Passed by Fastify to `http.createServer` (or `http2.createServer` for h2c; both are `net.Server`s, which apply
   * these to every accepted socket before the first byte is read, so no 'connection' listener is needed).
   */
  readonly http: { noDelay: boolean; keepAlive: boolean; keepAliveInitialDelay: number };
  readonly keepAliveTimeout?: number;
  readonly http2?: true;
  /** h2c: an idle HTTP/2 session is closed (GOAWAY) after this long, the counterpart of the keep-alive timeout. */
  readonly http2SessionTimeout?: number;
}

export function httpServerOptions(config: HttpRuntimeConfig): HttpServerOptions {
  const sockets = {
    http: {
      noDelay: config.HTTP_NO_DELAY,
      keepAlive: config.HTTP_TCP_KEEPALIVE,
      keepAliveInitialDelay: config.HTTP_TCP_KEEPALIVE ? config.HTTP_TCP_KEEPALIVE_DELAY_MS : 0,
    },
  };
  const base = { bodyLimit: config.HTTP_BODY_LIMIT_BYTES, return503OnClosing: true as const, ...sockets };
  if (config.HTTP_H2C) return { ...base, http2: true, http2SessionTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS };
  // Keep-alive off (0) is not a server option: see closesEveryConnection.
  return config.HTTP_KEEP_ALIVE_TIMEOUT_MS === 0
    ? base
    : { ...base, keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS };
}

/**
 * HTTP keep-alive off: every answer says `connection: close`, after which Node ends the socket. (Node's
 * maxRequestsPerSocket = 1 is not the same: it only sets the header and answers 503 to whatever a client sends next on
 * the still open connection.)
 */
export const closesEveryConnection = (config: Pick<AppConfig, 'HTTP_KEEP_ALIVE_TIMEOUT_MS'>): boolean =>
  config.HTTP_KEEP_ALIVE_TIMEOUT_MS === 0;
