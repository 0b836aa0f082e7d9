import type { ContentStore } from '#libs/cas';
import type { NodeDispatch } from '#libs/events';
import { ExpressionError, type ExpressionEvaluator } from '#libs/expressions';
import type { NodeConfigs } from '#libs/workflows';
import { executeAgent, type AgentExecutorOptions, type AroundModel } from './agent/agent.executor.js';
import type { ExecutionResult } from './execution-result.js';
import { executeHttpRequest, type HttpExecutorOptions } from './http/http-request.executor.js';

export type { ExecutionResult };

export interface ExecutorDeps {
  readonly evaluator: ExpressionEvaluator;
  readonly content: ContentStore;
  readonly http: HttpExecutorOptions;
  /** absent when no LLM_BASE_URL is configured (this process then runs no agent group) */
  readonly agent?: Omit<AgentExecutorOptions, 'evaluator'>;
}

interface TaskInput {
  input: unknown;
  nodes: Record<string, unknown>;
}

/** A task's config and input, read back from content-addressed storage when they travelled by reference. */
export interface PreparedTask {
  readonly config: Record<string, unknown>;
  readonly data: TaskInput;
}

export async function prepareTask(task: NodeDispatch, content: ContentStore): Promise<PreparedTask> {
  // Either may travel by reference when it is large (the coordinator spills it to content-addressed storage).
  const [configJson, inputJson] = await Promise.all([
    content.unspill(task.workspaceId, task.configJson, task.configRef),
    content.unspill(task.workspaceId, task.inputJson, task.inputRef),
  ]);
  return {
    config: JSON.parse(configJson) as Record<string, unknown>,
    data: JSON.parse(inputJson) as TaskInput,
  };
}

/**
 * What a node's result depends on besides its config: the part of its task input its executor reads, which the node
 * result cache keys on. function and agent nodes read the run input and the finished nodes' outputs (large outputs as
 * `{$ref}`, a digest of their content); an http_request node's request is its config alone.
 */
export function inputsRead(task: NodeDispatch, prepared: PreparedTask): unknown {
  switch (task.nodeType) {
    case 'http_request':
      return null;
    case 'function':
    case 'agent':
    case 'hitl':
    case 'delay':
      return prepared.data;
    default: {
      const unknownType: never = task.nodeType;
      throw new Error(`unknown node type ${String(unknownType)}`);
    }
  }
}

/** Runs one node attempt. Failures of the node (a bad expression, an HTTP 500) are results, not exceptions. */
export async function executeTask(
  task: NodeDispatch,
  deps: ExecutorDeps,
  { config, data }: PreparedTask,
  aroundModel?: AroundModel,
): Promise<ExecutionResult> {
  switch (task.nodeType) {
    case 'function': {
      const { expression } = config as NodeConfigs['function'];
      try {
        const nodes = await deps.content.resolveNodeOutputs(task.workspaceId, data.nodes);
        const output = await deps.evaluator.evaluate(expression, { input: data.input, nodes });
        return { ok: true, output: output ?? null };
      } catch (error) {
        // The error's name says whether the expression is wrong (ExpressionError) or went past a limit.
        const named = error instanceof ExpressionError ? `${error.name}: ${error.message}` : (error as Error).message;
        return { ok: false, error: named };
      }
    }
    case 'http_request':
      return executeHttpRequest(
        config as NodeConfigs['http_request'],
        { runId: task.runId, nodeId: task.nodeId, attempt: task.attempt, deadlineAt: task.deadlineAt, input: data },
        deps.http,
      );
    case 'agent': {
      if (!deps.agent) return { ok: false, error: 'agent nodes need LLM_BASE_URL on the worker' };
      return executeAgent(
        config as NodeConfigs['agent'],
        {
          runId: task.runId,
          nodeId: task.nodeId,
          attempt: task.attempt,
          deadlineAt: task.deadlineAt,
          data: async () => ({
            input: data.input,
            nodes: await deps.content.resolveNodeOutputs(task.workspaceId, data.nodes),
          }),
        },
        { ...deps.agent, evaluator: deps.evaluator },
        aroundModel,
      );
    }
    case 'hitl':
    case 'delay':
      return { ok: false, error: `no worker executes ${task.nodeType} nodes` };
    default: {
      const unknownType: never = task.nodeType;
      return { ok: false, error: `unknown node type ${String(unknownType)}` };
    }
  }
}
