// Generated from schemas/*.avsc by `npm run schemas:gen`. Do not edit: change the schema and regenerate.
/* eslint-disable */

export const NodeOutcomeValues = ["succeeded", "failed", "timed_out"] as const;
export type NodeOutcome = (typeof NodeOutcomeValues)[number];

/** Where a result served from the node result cache came from. */
export interface CachedResult {
  /** The run whose attempt produced the result. */
  readonly fromRunId: string;
  /** Its node. */
  readonly fromNodeId: string;
  /** When that attempt finished. */
  readonly producedAt: number;
  /** How long that attempt took: the time this hit saved. */
  readonly durationMs: number;
  /** How the cache matched: exact (same config and inputs) or semantic (a similar prompt of an agent node). Null from workers before it was recorded: exact. */
  readonly match: null | string;
  /** A semantic match's cosine similarity between this prompt and the producing one. */
  readonly similarity: null | number;
}

/** A worker finished a node attempt, successfully or not; key = run id. */
export interface NodeCompleted {
  /** Unique per event; consumers dedupe on it. */
  readonly eventId: string;
  /** Always "node.completed": the discriminant of the event union. */
  readonly type: "node.completed";
  /** Per-key sequence number; consumers detect gaps and duplicates with it. */
  readonly seq: number;
  readonly occurredAt: number;
  readonly workspaceId: string;
  readonly runId: string;
  readonly nodeId: string;
  readonly attempt: number;
  /** timed_out: the attempt failed at or past its deadline (the node's timeoutMs). */
  readonly status: NodeOutcome;
  /** Small outputs inline. */
  readonly outputJson: null | string;
  /** sha256 reference into content-addressed storage for large outputs. */
  readonly outputRef: null | string;
  readonly error: null | string;
  /** The node's type, for hop latency labels. */
  readonly nodeType: null | string;
  /** When the worker started the attempt. */
  readonly startedAt: null | number;
  /** Set when the output came from the node result cache instead of an execution. */
  readonly cached: null | CachedResult;
}

export const NodeTypeValues = ["function", "http_request", "agent", "hitl", "delay"] as const;
export type NodeType = (typeof NodeTypeValues)[number];

/** The node's own `cache` setting from the definition. */
export interface NodeCacheSetting {
  /** false: never cached; true: cached even where the default is off (POST, PUT, PATCH, DELETE requests). */
  readonly enabled: null | boolean;
  /** How long the node's result stays cached, instead of its type's default. */
  readonly ttlMs: null | number;
  /** Agent nodes: false keeps the node out of the semantic cache (similar prompts), leaving the exact one. */
  readonly semantic: null | boolean;
  /** Agent nodes: the cosine similarity from which a cached answer to a similar prompt is served, instead of the default. */
  readonly similarity: null | number;
  /** Agent nodes: how long an answer stays in the semantic cache, instead of the default. */
  readonly semanticTtlMs: null | number;
}

/** A node attempt is ready for a worker of its type; key = run id. */
export interface NodeDispatch {
  /** Unique per event; consumers dedupe on it. */
  readonly eventId: string;
  /** Always "node.dispatch": the discriminant of the event union. */
  readonly type: "node.dispatch";
  /** Per-key sequence number; consumers detect gaps and duplicates with it. */
  readonly seq: number;
  readonly occurredAt: number;
  readonly workspaceId: string;
  readonly runId: string;
  readonly nodeId: string;
  readonly nodeType: NodeType;
  readonly attempt: number;
  readonly configJson: string;
  readonly inputJson: string;
  readonly deadlineAt: null | number;
  /** For logs and traces. */
  readonly workflowId: null | string;
  /** Type of the node whose completion made this one ready ("start" for entry nodes): the from_type of hop_latency_ms. */
  readonly fromType: null | string;
  /** When that completion (or the run request) happened: hop latency is measured from here to the worker picking the task up. */
  readonly triggeredAt: null | number;
  /** Set when inputJson would be too large to travel inline: the JSON is in content-addressed storage under this reference and inputJson is empty. */
  readonly inputRef: null | string;
  /** As inputRef, for configJson. */
  readonly configRef: null | string;
  /** The permission (read, write or admin) the run was started with: part of the node result cache key, so a result is never served to a run of another permission. Null: the task bypasses the cache. */
  readonly permission: null | string;
  /** The node definition's `cache` setting; null when it has none. */
  readonly cache: null | NodeCacheSetting;
}

/** A patch was accepted (202) for a workflow; key = workflow id. */
export interface PatchCreated {
  /** Unique per event; consumers dedupe on it. */
  readonly eventId: string;
  /** Always "patch.created": the discriminant of the event union. */
  readonly type: "patch.created";
  /** Per-key sequence number; consumers detect gaps and duplicates with it. */
  readonly seq: number;
  readonly occurredAt: number;
  readonly workspaceId: string;
  readonly workflowId: string;
  readonly patchId: string;
  /** The RFC 6902 operations, as JSON text. */
  readonly opsJson: string;
  readonly idempotencyKey: null | string;
}

export const RunControlKindValues = ["cancel", "timer", "poison"] as const;
export type RunControlKind = (typeof RunControlKindValues)[number];

export const TimerKindValues = ["retry", "node_timeout", "run_timeout", "delay"] as const;
export type TimerKind = (typeof TimerKindValues)[number];

/** A command for a run's coordinator that does not come from a worker: a cancel, a fired timer, or a poisoned task; key = run id, so it reaches the run's owner. */
export interface RunControl {
  /** Unique per event; consumers dedupe on it. */
  readonly eventId: string;
  /** Always "run.control": the discriminant of the event union. */
  readonly type: "run.control";
  /** 0: commands are not a stream; the run's state decides whether one still applies. */
  readonly seq: number;
  readonly occurredAt: number;
  readonly workspaceId: string;
  readonly runId: string;
  readonly kind: RunControlKind;
  readonly timerKind: null | TimerKind;
  readonly nodeId: null | string;
  readonly attempt: null | number;
  readonly reason: null | string;
}

/** A state change of a run, for live streams and projections; key = run id. */
export interface RunEvent {
  /** Unique per event; consumers dedupe on it. */
  readonly eventId: string;
  /** Always "run.event": the discriminant of the event union. */
  readonly type: "run.event";
  /** Per-key sequence number; consumers detect gaps and duplicates with it. */
  readonly seq: number;
  readonly occurredAt: number;
  readonly workspaceId: string;
  readonly runId: string;
  readonly workflowId: string;
  /** run.started, node.dispatched, node.completed, run.completed, ... */
  readonly kind: string;
  readonly status: string;
  readonly nodeId: null | string;
  readonly detailJson: null | string;
}

/** A run was accepted (202); key = run id. */
export interface RunRequested {
  /** Unique per event; consumers dedupe on it. */
  readonly eventId: string;
  /** Always "run.requested": the discriminant of the event union. */
  readonly type: "run.requested";
  /** Per-key sequence number; consumers detect gaps and duplicates with it. */
  readonly seq: number;
  readonly occurredAt: number;
  readonly workspaceId: string;
  readonly runId: string;
  readonly workflowId: string;
  readonly workflowVersion: number;
  readonly inputJson: string;
  /** Low-cardinality label for metrics (workflows_started_total{tag}). */
  readonly tag: null | string;
  /** Set when the input is too large to travel inline (EVENT_INLINE_MAX_BYTES): its JSON is in content-addressed storage under this sha256 reference and inputJson is empty. */
  readonly inputRef: null | string;
  /** The permission (read, write or admin) of the API key that started the run; node results are cached and served per permission. Null for runs started before it was recorded: their nodes bypass the cache. */
  readonly permission: null | string;
}

/** The coordinator's changelog: a run's whole state after one transition, with what that transition did (its run events, timer and approval changes) for the run projector; key = run id, compacted, tombstoned a while after the run ended. */
export interface RunStateRecord {
  /** Unique per event; consumers dedupe on it. */
  readonly eventId: string;
  /** Always "run.state": the discriminant of the event union. */
  readonly type: "run.state";
  /** The state's version: 1 for the first transition, +1 for every one after; the projector applies a record only over an older version. */
  readonly seq: number;
  readonly occurredAt: number;
  readonly workspaceId: string;
  readonly runId: string;
  readonly workflowId: string;
  readonly workflowVersion: number;
  readonly tag: null | string;
  /** The run's input, as given to POST /runs. */
  readonly inputJson: string;
  /** When the API accepted the run. */
  readonly requestedAt: number;
  /** The run state machine's state (status, nodes, edges, output, error, eventSeq). */
  readonly stateJson: string;
  /** What the transition did besides dispatching: run events, timers set and cleared, approvals opened and expired (a JSON array). */
  readonly effectsJson: string;
  /** Set when inputJson would be too large to travel inline: the JSON is in content-addressed storage under this reference and inputJson is empty. */
  readonly inputRef: null | string;
  /** As inputRef, for stateJson. */
  readonly stateRef: null | string;
  /** As inputRef, for effectsJson. */
  readonly effectsRef: null | string;
  /** The permission (read, write or admin) of the API key that started the run; node results are cached and served per permission. Null for runs started before it was recorded: their nodes bypass the cache. */
  readonly permission: null | string;
}

export interface RejectedPatch {
  readonly patchId: string;
  readonly seq: number;
  readonly reason: string;
}

/** A batch of patches produced a new version; key = workflow id. */
export interface WorkflowMaterialized {
  /** Unique per event; consumers dedupe on it. */
  readonly eventId: string;
  /** Always "workflow.materialized": the discriminant of the event union. */
  readonly type: "workflow.materialized";
  /** Per-key sequence number; consumers detect gaps and duplicates with it. */
  readonly seq: number;
  readonly occurredAt: number;
  readonly workspaceId: string;
  readonly workflowId: string;
  readonly version: number;
  readonly appliedThroughSeq: number;
  readonly appliedPatchIds: Array<string>;
  readonly rejected: Array<RejectedPatch>;
}

/** Schema file name -> the event type it declares. */
export interface EventsBySchema {
  "node-completed": NodeCompleted;
  "node-dispatch": NodeDispatch;
  "patch-created": PatchCreated;
  "run-control": RunControl;
  "run-event": RunEvent;
  "run-requested": RunRequested;
  "run-state": RunStateRecord;
  "workflow-materialized": WorkflowMaterialized;
}

export type SchemaName = keyof EventsBySchema;
export type AnyEvent = EventsBySchema[SchemaName];
