import type { ServerResponse } from 'node:http';
import { reply, startTestHttpServer, type SeenRequest } from '../http/test-http-server.js';
import type { ChatCompletionRequest } from './chat-completions.js';

/**
 * A stand-in for an LLM provider in tests: a real HTTP server speaking the OpenAI Chat Completions protocol
 * (POST /v1/chat/completions, bearer auth, `{"error": {...}}` answers), whose model answers `echo: <last user message>`.
 * Model `hang` never answers; `failNext` makes the next calls fail with a status (429 to test rate limits); `delayMs`
 * makes every answer that slow, as a real model is (benchmarks).
 */
export interface ChatCompletionsStandIn {
  /** `http://127.0.0.1:<port>/v1`, what LLM_BASE_URL is set to */
  baseUrl: string;
  requests: SeenRequest[];
  /** the parsed bodies of the well-formed requests, in order */
  completions: ChatCompletionRequest[];
  failNext(count: number, status: number): void;
  close(): Promise<void>;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

export async function startChatCompletionsStandIn(
  apiKey: string,
  options: { readonly delayMs?: number } = {},
): Promise<ChatCompletionsStandIn> {
  const completions: ChatCompletionRequest[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 0 };
  const error = (response: ServerResponse, status: number, message: string, type: string) =>
    reply(response, status, 'application/json', JSON.stringify({ error: { message, type, code: null } }));

  const server = await startTestHttpServer((request, response) => {
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
  return {
    baseUrl: `${server.origin}/v1`,
    requests: server.requests,
    completions,
    failNext: (count, status) => {
      failures = { count, status };
    },
    close: () => server.close(),
  };
}
