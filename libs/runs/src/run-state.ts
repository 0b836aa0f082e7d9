import type { NodeCacheOptions, NodeType } from '#libs/workflows';

/** API.md run statuses; the last four are terminal. */
export const RUN_STATUSES = ['pending', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_RUN_STATUSES = ['completed', 'failed', 'cancelled', 'timed_out'] as const;
export type TerminalRunStatus = (typeof TERMINAL_RUN_STATUSES)[number];
export const isTerminal = (status: string): status is TerminalRunStatus =>
  (TERMINAL_RUN_STATUSES as readonly string[]).includes(status);

/** A run's last event on its stream (`run.completed`, ...): the stream closes after it. */
export const isTerminalRunEvent = (name: string): boolean =>
  name.startsWith('run.') && isTerminal(name.slice('run.'.length));

/**
 * `pending`: not started, or waiting out a retry backoff (then `attempts` > 0 and `retryAt` is set).
 * `waiting`: a hitl node waiting for a decision or a delay node waiting for its timer.
 */
export const NODE_STATUSES = [
  'pending',
  'running',
  'waiting',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
  'timed_out',
] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface NodeState {
  status: NodeStatus;
  attempts: number;
  output?: unknown;
  /** `sha256:<hex>` in content-addressed storage, for outputs too large to keep inline. */
  outputRef?: string;
  error?: string;
  retryAt?: number;
  /** Set when the output was served from the node result cache: whose attempt produced it, when, and what it saved. */
  cached?: CachedFrom;
}

/** An agent answer's token usage, as its output records it (`{model, usage: {promptTokens, completionTokens}}`). */
export interface TokensSpent {
  model: string;
  promptTokens: number;
  completionTokens: number;
}

const isCount = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;

/** The token usage an agent's output records, or undefined when it records none (or it is not an agent's). */
export function tokensSpent(output: unknown): TokensSpent | undefined {
  if (typeof output !== 'object' || output === null) return undefined;
  const { model, usage } = output as { model?: unknown; usage?: unknown };
  if (typeof model !== 'string' || typeof usage !== 'object' || usage === null) return undefined;
  const { promptTokens, completionTokens } = usage as { promptTokens?: unknown; completionTokens?: unknown };
  if (!isCount(promptTokens) || !isCount(completionTokens)) return undefined;
  return { model, promptTokens, completionTokens };
}

export interface CachedFrom {
  fromRunId: string;
  fromNodeId: string;
  /** ISO 8601 */
  producedAt: string;
  /** How long the producing attempt took. */
  savedMs: number;
  /** exact: same config and inputs; semantic: an agent's prompt similar to the producing one (absent: exact). */
  match?: 'exact' | 'semantic';
  /** A semantic match's cosine similarity. */
  similarity?: number;
}

/** A run as its coordinator sees it: what `runs` stores, minus identity. */
export interface RunState {
  status: RunStatus;
  nodes: Record<string, NodeState>;
  output?: unknown;
  error?: string;
  /** Last run event number: run events are numbered 1, 2, 3... per run, so SSE clients can resume and spot gaps. */
  eventSeq: number;
  /** Decided edges (index in `definition.edges` → satisfied?), so a `when` is evaluated once per run. */
  edges: Record<string, boolean>;
}

export type TimerKind = 'retry' | 'node_timeout' | 'run_timeout' | 'delay';

/** What happens to a run: the coordinator turns Kafka messages into these. */
export type RunInput =
  | {
      kind: 'completed';
      nodeId: string;
      attempt: number;
      succeeded: boolean;
      /** The attempt failed because its deadline passed (the worker gave up on it). */
      timedOut?: boolean;
      output?: unknown;
      outputRef?: string;
      error?: string;
      /** When the worker finished: the next hop's latency is measured from here. */
      at: number;
      /** The output came from the node result cache, produced by this run's node at that time (epoch ms). */
      cached?: {
        fromRunId: string;
        fromNodeId: string;
        producedAt: number;
        durationMs: number;
        match?: string | null;
        similarity?: number | null;
      };
    }
  | { kind: 'timer'; timer: TimerKind; nodeId?: string; attempt?: number }
  | { kind: 'cancel'; reason?: string }
  /** A task or completion of this run could not be handled and went to a dead-letter topic. */
  | { kind: 'poison'; reason: string };

/** What the coordinator must do, in this order, in the transaction that stores the new state. */
export type Effect =
  | {
      type: 'dispatch';
      nodeId: string;
      nodeType: NodeType;
      attempt: number;
      config: Record<string, unknown>;
      input: { input: unknown; nodes: Record<string, unknown> };
      deadlineAt: number | null;
      fromType: string;
      triggeredAt: number;
      seq: number;
      /** The node definition's `cache` setting, for the worker. */
      cache?: NodeCacheOptions;
    }
  | { type: 'event'; seq: number; kind: string; status: string; nodeId?: string; detail?: Record<string, unknown> }
  | { type: 'set_timer'; key: string; kind: TimerKind; fireAt: number; nodeId?: string; attempt?: number }
  | { type: 'clear_timer'; key: string }
  | { type: 'clear_all_timers' }
  | { type: 'open_approval'; nodeId: string; attempt: number; prompt: string }
  /** Without a node: every open approval of the run (it ended). */
  | { type: 'expire_approvals'; nodeId?: string; attempt?: number }
  /** A node attempt's output came from the node result cache: the audit trail of the run's workspace. */
  | ({
      type: 'cache_hit';
      nodeId: string;
      nodeType: NodeType;
      attempt: number;
      /** The model tokens the producing attempt spent (an agent's output records them): what the hit saved. */
      tokens?: TokensSpent;
    } & CachedFrom);
