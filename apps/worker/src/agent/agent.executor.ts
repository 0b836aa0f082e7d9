import { STATUS_CODES } from 'node:http';
import { request, type Dispatcher } from 'undici';
import { ExpressionError, type ExpressionEvaluator } from '#libs/expressions';
import { withTraceHeaders } from '#libs/tracing';
import { renderPromptTemplate, type NodeConfigs } from '#libs/workflows';
import { failure, type ExecutionResult } from '../execution-result.js';
import { decodeText, firstValue, readBounded } from '../http/response-body.js';
import {
  chatCompletionError,
  chatCompletionResponse,
  type AgentOutput,
  type ChatCompletionRequest,
} from './chat-completions.js';

export interface AgentTaskContext {
  runId: string;
  nodeId: string;
  attempt: number;
  /** epoch ms; null when the task has none */
  deadlineAt: number | null;
  /** what the prompt's placeholders are evaluated over: `{input, nodes}` with stored outputs resolved */
  data: () => Promise<{ input: unknown; nodes: Record<string, unknown> }>;
}

export interface AgentExecutorOptions {
  /** e.g. https://api.openai.com/v1 (LLM_BASE_URL) */
  baseUrl: string;
  apiKey?: string;
  /** when the task has no deadline, or a later one (AGENT_TIMEOUT_MS) */
  defaultTimeoutMs: number;
  maxResponseBytes: number;
  evaluator: ExpressionEvaluator;
  /** kept by the caller so that connections to the provider are reused across tasks */
  dispatcher?: Dispatcher;
  /** told the token counts of every answer (metrics) */
  onUsage?: (model: string, usage: NonNullable<AgentOutput['usage']>) => void;
}

/**
 * Wraps the model call once the prompt is rendered: the semantic cache answers a prompt like one it has seen instead
 * of asking the model.
 */
export type AroundModel = (prompt: string, ask: () => Promise<ExecutionResult>) => Promise<ExecutionResult>;

const ERROR_EXCERPT_CHARS = 300;

/**
 * Runs one agent task: renders the prompt, asks the model once, and returns its answer. Every failure (a template
 * that does not evaluate, network, timeout, non-2xx such as 429, a malformed answer) is a `{ ok: false }` result, so the
 * node's retry policy decides what happens next.
 */
export async function executeAgent(
  config: NodeConfigs['agent'],
  ctx: AgentTaskContext,
  options: AgentExecutorOptions,
  aroundModel?: AroundModel,
): Promise<ExecutionResult> {
  if (Math.min(options.defaultTimeoutMs, (ctx.deadlineAt ?? Infinity) - Date.now()) <= 0) {
    return failure('deadline passed before the model was asked');
  }
  let prompt: string;
  try {
    const data = await ctx.data();
    prompt = await renderPromptTemplate(config.prompt, (expression) => options.evaluator.evaluate(expression, data));
  } catch (error) {
    const named = error instanceof ExpressionError ? `${error.name}: ${error.message}` : (error as Error).message;
    return failure(`prompt: ${named}`);
  }
  const ask = () => askModel(config, prompt, ctx, options);
  return aroundModel ? aroundModel(prompt, ask) : ask();
}

/** Asks the model once with the rendered prompt. */
async function askModel(
  config: NodeConfigs['agent'],
  prompt: string,
  ctx: AgentTaskContext,
  options: AgentExecutorOptions,
): Promise<ExecutionResult> {
  // The deadline again: a semantic lookup may have taken some of the time.
  const timeoutMs = Math.min(options.defaultTimeoutMs, (ctx.deadlineAt ?? Infinity) - Date.now());
  if (timeoutMs <= 0) return failure('deadline passed before the model was asked');
  const body: ChatCompletionRequest = {
    model: config.model,
    messages: [
      ...(config.system ? [{ role: 'system' as const, content: config.system }] : []),
      { role: 'user', content: prompt },
    ],
    ...(config.temperature === undefined ? {} : { temperature: config.temperature }),
    ...(config.maxTokens === undefined ? {} : { max_tokens: config.maxTokens }),
  };
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    // Providers and gateways that dedupe retries use it; the others ignore it.
    'idempotency-key': `${ctx.runId}:${ctx.nodeId}:${ctx.attempt}`,
  };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;

  try {
    const response = await request(`${options.baseUrl.replace(/\/+$/, '')}/chat/completions`, {
      method: 'POST',
      headers: withTraceHeaders(headers),
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    const contentType = firstValue(response.headers['content-type']);
    const { bytes, complete } = await readBounded(response.body, options.maxResponseBytes);
    const text = decodeText(bytes, contentType);
    if (response.statusCode < 200 || response.statusCode > 299) return failure(errorMessage(response.statusCode, text));
    if (!complete) return failure(`the answer is larger than ${options.maxResponseBytes} bytes`);
    return toOutput(text, config.model, options);
  } catch (error) {
    const err = error as Error;
    if (err.name === 'TimeoutError') return failure(`no answer from the model within ${timeoutMs} ms`);
    return failure(`${err.message}${causeOf(err)}`);
  }
}

function toOutput(text: string, requestedModel: string, options: AgentExecutorOptions): ExecutionResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return failure(`the answer is not JSON: ${text.slice(0, ERROR_EXCERPT_CHARS)}`);
  }
  const parsed = chatCompletionResponse.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return failure(`the answer is not a chat completion (${issue?.path.join('.') || 'body'}: ${issue?.message})`);
  }
  const choice = parsed.data.choices[0]!;
  const model = parsed.data.model ?? requestedModel;
  const usage = parsed.data.usage
    ? { promptTokens: parsed.data.usage.prompt_tokens, completionTokens: parsed.data.usage.completion_tokens }
    : null;
  if (usage) options.onUsage?.(model, usage);
  const output: AgentOutput = {
    text: choice.message.content ?? '',
    model,
    finishReason: choice.finish_reason ?? null,
    usage,
  };
  return { ok: true, output };
}

function errorMessage(status: number, text: string): string {
  const statusLine = [`model API answered HTTP ${status}`, STATUS_CODES[status]].filter(Boolean).join(' ');
  let detail = text.slice(0, ERROR_EXCERPT_CHARS);
  try {
    const parsed = chatCompletionError.safeParse(JSON.parse(text));
    if (parsed.success) detail = parsed.data.error.message.slice(0, ERROR_EXCERPT_CHARS);
  } catch {
    // not JSON: the excerpt as it is
  }
  return detail === '' ? statusLine : `${statusLine}: ${detail}`;
}

/** undici reports connection errors as "fetch failed"-like wrappers; the cause says what happened. */
function causeOf(error: Error): string {
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? ` (${cause.message})` : '';
}
