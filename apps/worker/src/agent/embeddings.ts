import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import type { Embed } from '#libs/cache';
import { readBounded } from '../http/response-body.js';

/**
 * The part of the OpenAI embeddings protocol (POST {base}/embeddings) the semantic cache uses: one input, floats.
 * OpenAI, Azure OpenAI's v1 API, vLLM, Ollama and most gateways speak it.
 */
export interface EmbeddingsRequest {
  model: string;
  input: string;
  /** text-embedding-3 models shorten their vectors to this; the answer's length is checked against it either way. */
  dimensions: number;
  encoding_format: 'float';
}

const embeddingsResponse = z.object({
  data: z.array(z.object({ embedding: z.array(z.number()) })).min(1),
});

export interface EmbeddingsOptions {
  /** EMBEDDINGS_BASE_URL, e.g. https://api.openai.com/v1 */
  readonly baseUrl: string;
  readonly apiKey?: string | undefined;
  readonly model: string;
  readonly dimensions: number;
  /** EMBEDDINGS_TIMEOUT_MS: a slow API is a miss, not a wait */
  readonly timeoutMs: number;
  readonly dispatcher?: Dispatcher;
}

/** Room for a float's JSON (`-0.012345678901234567,`) per dimension, plus the envelope. */
const bytesPerDimension = 32;

/** An Embed over an OpenAI-compatible embeddings API; every failure (network, timeout, non-2xx, malformed) throws. */
export function embeddingsClient(options: EmbeddingsOptions): Embed {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/embeddings`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  const maxBytes = 64 * 1024 + options.dimensions * bytesPerDimension;
  return async (text) => {
    const body: EmbeddingsRequest = {
      model: options.model,
      input: text,
      dimensions: options.dimensions,
      encoding_format: 'float',
    };
    const response = await request(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    const { bytes, complete } = await readBounded(response.body, maxBytes);
    if (response.statusCode < 200 || response.statusCode > 299) {
      throw new Error(`embeddings API answered HTTP ${response.statusCode}`);
    }
    if (!complete) throw new Error(`the embeddings answer is larger than ${maxBytes} bytes`);
    const parsed = embeddingsResponse.safeParse(JSON.parse(bytes.toString('utf8')));
    if (!parsed.success) throw new Error('the answer is not an embeddings list');
    return parsed.data.data[0]!.embedding;
  };
}
