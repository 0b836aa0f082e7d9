import autocannon from 'autocannon';

export interface CannonResult {
  /** 2xx answers per second over the whole run. */
  readonly okPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
}

export interface CannonOptions {
  readonly origin: string;
  readonly connections: number;
  readonly durationS: number;
  readonly headers?: Record<string, string>;
  /** POSTs: the path and body of the next request (called for every request). */
  readonly nextPost?: () => { path: string; body: string };
  readonly path?: string;
}

/**
 * A closed-loop load with autocannon: `connections` keep-alive connections, one request in flight on each, for
 * `durationS`.
 */
export async function cannon(options: CannonOptions): Promise<CannonResult> {
  const { nextPost } = options;
  const result = await autocannon({
    url: `${options.origin}${options.path ?? '/'}`,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationS,
    headers: options.headers ?? {},
    ...(nextPost
      ? {
          requests: [
            {
              method: 'POST',
              setupRequest: (request) => ({ ...request, method: 'POST', ...nextPost() }),
            },
          ],
        }
      : {}),
  });
  return {
    okPerS: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}
