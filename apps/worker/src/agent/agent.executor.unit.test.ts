import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExpressionEvaluator } from '#libs/expressions';
import type { NodeConfigs } from '#libs/workflows';
import type { ExecutionResult } from '../execution-result.js';
import { reply, startTestHttpServer } from '../http/test-http-server.js';
import { executeAgent, type AgentExecutorOptions, type AgentTaskContext } from './agent.executor.js';
import { startChatCompletionsStandIn, type ChatCompletionsStandIn } from './chat-completions-stand-in.js';
import type { AgentOutput } from './chat-completions.js';

const API_KEY = 'sk-test-stand-in';
const evaluator = new ExpressionEvaluator({ timeoutMs: 1000, maxDepth: 100 });
const task = (
  data: { input: unknown; nodes: Record<string, unknown> } = { input: {}, nodes: {} },
): AgentTaskContext => ({
  runId: 'run-1',
  nodeId: 'write',
  attempt: 2,
  deadlineAt: null,
  data: () => Promise.resolve(data),
});

function errorOf(result: ExecutionResult): string {
  assert.equal(result.ok, false, `expected a failure, got ${JSON.stringify(result)}`);
  return result.ok ? '' : result.error;
}

function outputOf(result: ExecutionResult): AgentOutput {
  assert.equal(result.ok, true, `expected success, got ${JSON.stringify(result)}`);
  return (result.ok ? result.output : undefined) as AgentOutput;
}

describe('agent nodes against a Chat Completions API (stand-in speaking the OpenAI protocol)', () => {
  let llm: ChatCompletionsStandIn;
  let options: AgentExecutorOptions;
  before(async () => {
    llm = await startChatCompletionsStandIn(API_KEY);
    options = { baseUrl: llm.baseUrl, apiKey: API_KEY, defaultTimeoutMs: 5000, maxResponseBytes: 100_000, evaluator };
  });
  after(() => llm.close());

  it('renders the prompt over {input, nodes}, asks once, and outputs the answer with its usage', async () => {
    const usage: unknown[] = [];
    const config: NodeConfigs['agent'] = {
      model: 'gpt-test',
      system: 'You are terse.',
      prompt: 'Summarise {{ nodes.fetch.body.title }} for {{ input.reader }}',
      temperature: 0.2,
      maxTokens: 50,
    };
    const result = await executeAgent(
      config,
      task({ input: { reader: 'Ada' }, nodes: { fetch: { body: { title: 'Kafka' } } } }),
      { ...options, onUsage: (model, u) => usage.push([model, u]) },
    );
    assert.deepEqual(outputOf(result), {
      text: 'echo: Summarise Kafka for Ada',
      model: 'gpt-test-2026-01-01',
      finishReason: 'stop',
      usage: { promptTokens: 7, completionTokens: 5 },
    });
    assert.deepEqual(usage, [['gpt-test-2026-01-01', { promptTokens: 7, completionTokens: 5 }]]);
    assert.deepEqual(llm.completions.at(-1), {
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Summarise Kafka for Ada' },
      ],
      temperature: 0.2,
      max_tokens: 50,
    });
    const seen = llm.requests.at(-1)!;
    assert.equal(seen.headers['idempotency-key'], 'run-1:write:2');
    assert.equal(seen.headers.authorization, `Bearer ${API_KEY}`);
  });

  it('says when maxTokens cut the answer short', async () => {
    const result = await executeAgent({ model: 'm', prompt: 'one two three four', maxTokens: 2 }, task(), options);
    assert.deepEqual([outputOf(result).text, outputOf(result).finishReason], ['echo: one', 'length']);
  });

  it('fails with the provider’s own message on 429 and 401, so the node’s retry policy decides', async () => {
    llm.failNext(1, 429);
    assert.match(
      errorOf(await executeAgent({ model: 'm', prompt: 'p' }, task(), options)),
      /^model API answered HTTP 429 Too Many Requests: Rate limit reached/,
    );
    const wrongKey = await executeAgent({ model: 'm', prompt: 'p' }, task(), { ...options, apiKey: 'sk-wrong' });
    assert.match(errorOf(wrongKey), /HTTP 401 Unauthorized: Incorrect API key provided/);
  });

  it('times out at the node’s deadline or AGENT_TIMEOUT_MS, whichever is sooner', async () => {
    const slow = await executeAgent({ model: 'hang', prompt: 'p' }, task(), { ...options, defaultTimeoutMs: 200 });
    assert.match(errorOf(slow), /no answer from the model within 200 ms/);
    const late = await executeAgent({ model: 'm', prompt: 'p' }, { ...task(), deadlineAt: Date.now() - 1 }, options);
    assert.match(errorOf(late), /deadline passed/);
  });

  it('fails a prompt whose placeholder does not evaluate, without calling the model', async () => {
    const before = llm.requests.length;
    const result = await executeAgent({ model: 'm', prompt: 'x {{ $error("no title") }}' }, task(), options);
    assert.match(errorOf(result), /^prompt: .*no title/);
    assert.equal(llm.requests.length, before);
  });

  it('refuses answers that are not chat completions, or too large', async () => {
    const answers = [
      ['application/json', JSON.stringify({ choices: [] })],
      ['text/html', '<html>gateway error page</html>'],
      ['application/json', JSON.stringify({ choices: [{ message: { content: 'x'.repeat(500) } }] })],
    ];
    let next = 0;
    const odd = await startTestHttpServer((_request, response) => {
      const [type, body] = answers[next++]!;
      reply(response, 200, type!, body!);
    });
    try {
      const ask = (maxResponseBytes = 100_000) =>
        executeAgent({ model: 'm', prompt: 'p' }, task(), { ...options, baseUrl: odd.origin, maxResponseBytes });
      assert.match(errorOf(await ask()), /not a chat completion \(choices: /);
      assert.match(errorOf(await ask()), /not JSON: <html>gateway error page/);
      assert.match(errorOf(await ask(100)), /larger than 100 bytes/);
      assert.equal(odd.requests[0]?.path, '/chat/completions');
    } finally {
      await odd.close();
    }
  });

  it('reports an unreachable provider as a failure naming the cause', async () => {
    const result = await executeAgent({ model: 'm', prompt: 'p' }, task(), {
      ...options,
      baseUrl: 'http://127.0.0.1:1/v1',
    });
    assert.match(errorOf(result), /ECONNREFUSED/);
  });
});
