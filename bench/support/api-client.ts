import { Pool } from 'undici';

export interface Reply {
  readonly status: number;
  readonly text: string;
}

/**
 * The benchmark's HTTP client: one undici pool of keep-alive connections to the service (one request per connection
 * at a time, like that many independent clients), authenticated with one API key.
 */
export class ApiClient {
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;
  private closing = false;

  constructor(origin: string, connections: number, apiKey: string) {
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
    this.headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  }

  async get(path: string): Promise<Reply> {
    const response = await this.pool.request({ method: 'GET', path, headers: this.headers });
    return { status: response.statusCode, text: await response.body.text() };
  }

  async post(path: string, body: string): Promise<Reply> {
    const response = await this.pool.request({ method: 'POST', path, headers: this.headers, body });
    return { status: response.statusCode, text: await response.body.text() };
  }

  /** Like `post` for the hot loop: resolves with the status once the body is read, without decoding it. */
  async postStatus(path: string, body: string): Promise<number> {
    const response = await this.pool.request({ method: 'POST', path, headers: this.headers, body });
    await response.body.dump();
    return response.statusCode;
  }

  /** POSTs and returns the parsed body, failing on any status but the expected one. */
  async postExpecting<T>(expected: number, path: string, body: unknown): Promise<T> {
    const reply = await this.post(path, JSON.stringify(body));
    if (reply.status !== expected) {
      throw new Error(`POST ${path}: expected ${expected}, got ${reply.status}: ${reply.text.slice(0, 500)}`);
    }
    return JSON.parse(reply.text) as T;
  }

  /** Set once `close()` was called: load loops stop sending instead of spinning on rejected requests. */
  get closed(): boolean {
    return this.closing;
  }

  close(): Promise<void> {
    this.closing = true;
    return this.pool.close();
  }
}

/** Runs `task` over `items` with at most `limit` at once, keeping results in item order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
