import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { reply, startTestHttpServer, type SeenRequest } from '../http/test-http-server.js';
import type { ChatCompletionRequest } from './chat-completions.js';
import type { EmbeddingsRequest } from './embeddings.js';

/**
 * A stand-in for an LLM provider in tests: a real HTTP server speaking the OpenAI Chat Completions protocol
 * (POST /v1/chat/completions, bearer auth, `{"error": {...}}` answers), whose model answers `echo: <last user message>`.
 * Model `hang` never answers; `failNext` makes the next calls fail with a status (429 to test rate limits); `delayMs`
 * makes every answer that slow, as a real model is (benchmarks).
 *
 * It speaks the embeddings protocol too (POST /v1/embeddings): the vector of a text is its bag of words hashed into
 * the dimensions asked for and normalised (`bagOfWords`), so prompts sharing most words are near each other and others
 * are not; which prompt is near which is then decided by the vector search. `embeddingsDown` makes it answer 503,
 * `embeddingsHang` not at all.
 */
export interface ChatCompletionsStandIn {
  /** `http://127.0.0.1:<port>/v1`, what LLM_BASE_URL is set to */
  baseUrl: string;
  requests: SeenRequest[];
  /** the parsed bodies of the well-formed requests, in order */
  completions: ChatCompletionRequest[];
  /** the parsed bodies of the embeddings requests, in order */
  embeddings: EmbeddingsRequest[];
  failNext(count: number, status: number): void;
  embeddingsDown: boolean;
  embeddingsHang: boolean;
  close(): Promise<void>;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

/**
 * A deterministic embedding: each lower-case word adds ±1 at a dimension chosen by its sha256, and the sum is
 * normalised. The cosine similarity of two texts is then about the share of words they have in common.
 */
export function bagOfWords(text: string, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)) {
    const digest = createHash('sha256').update(word).digest();
    vector[digest.readUInt32BE(0) % dimensions]! += digest[4]! & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((x) => x / norm);
}

export async function startChatCompletionsStandIn(
  apiKey: string,
  options: { readonly delayMs?: number } = {},
): Promise<ChatCompletionsStandIn> {
  const completions: ChatCompletionRequest[] = [];
  const embeddings: EmbeddingsRequest[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 0 };
  const error = (response: ServerResponse, status: number, message: string, type: string) =>
    reply(response, status, 'application/json', JSON.stringify({ error: { message, type, code: null } }));

  const server = await startTestHttpServer((request, response) => {
    if (request.method === 'POST' && request.path === '/v1/embeddings') {
      if (request.headers.authorization !== `Bearer ${apiKey}`) {
        error(response, 401, 'Incorrect API key provided.', 'invalid_request_error');
        return;
      }
      const body = JSON.parse(request.body) as EmbeddingsRequest;
      embeddings.push(body);
      if (standIn.embeddingsHang) return;
      if (standIn.embeddingsDown) {
        error(response, 503, 'The server is overloaded.', 'server_error');
        return;
      }
      const embedding = bagOfWords(body.input, body.dimensions);
      reply(
        response,
        200,
        'application/json',
        JSON.stringify({
          object: 'list',
          data: [{ object: 'embedding', index: 0, embedding }],
          model: body.model,
          usage: { prompt_tokens: words(body.input), total_tokens: words(body.input) },
        }),
      );
      return;
    }
    if (request.method !== 'POST' || request.path !== '/v1/chat/completions') {
      error(response, 404, `Unknown request URL: ${request.method} ${request.path}`, 'invalid_request_error');
      return;
    }
    if (request.headers.authorization !== `Bearer ${apiKey}`) {
      error(response, 401, 'Incorrect API key provided.', 'invalid_request_error');
      return;
    }
    let body: ChatCompletionRequest;
    try {
      body = JSON.parse(request.body) as ChatCompletionRequest;
    } catch {
      error(response, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
      return;
    }
    const user = body.messages?.filter((m) => m.role === 'user').at(-1);
    if (typeof body.model !== 'string' || !user || typeof user.content !== 'string') {
      error(response, 400, "'model' and a user message are required.", 'invalid_request_error');
      return;
    }
    completions.push(body);
    if (body.model === 'hang') return;
    if (failures.count > 0) {
      failures = { ...failures, count: failures.count - 1 };
      if (failures.status === 429) {
        error(response, 429, 'Rate limit reached for requests. Please try again in 20ms.', 'requests');
      } else {
        error(response, failures.status, 'The server had an error while processing your request.', 'server_error');
      }
      return;
    }
    let text = `echo: ${user.content}`;
    let finish = 'stop';
    if (body.max_tokens !== undefined && words(text) > body.max_tokens) {
      text = text.split(/\s+/).slice(0, body.max_tokens).join(' ');
      finish = 'length';
    }
    const promptTokens = body.messages.reduce((sum, m) => sum + words(m.content), 0);
    const answer = () =>
      reply(
        response,
        200,
        'application/json',
        JSON.stringify({
          id: `chatcmpl-${completions.length}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: `${body.model}-2026-01-01`,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: words(text),
            total_tokens: promptTokens + words(text),
          },
        }),
      );
    // A real model takes its time: `delayMs` makes every answer (not the refusals) that slow.
    if (options.delayMs) setTimeout(answer, options.delayMs);
    else answer();
  });
  const standIn: ChatCompletionsStandIn = {
    baseUrl: `${server.origin}/v1`,
    requests: server.requests,
    completions,
    embeddings,
    failNext: (count, status) => {
      failures = { count, status };
    },
    embeddingsDown: false,
    embeddingsHang: false,
    close: () => server.close(),
  };
  return standIn;
}
