import { envelope, type RunStateRecord } from '#libs/events';
import type { Effect, RunState } from '#libs/runs';

/** A run as its coordinator holds it in memory: identity, what it runs, its state and how many transitions it had. */
export interface OwnedRun {
  readonly id: string;
  readonly workspaceId: string;
  readonly workflowId: string;
  readonly workflowVersion: number;
  readonly input: unknown;
  readonly tag: string | null;
  /** When the API accepted the run. */
  readonly requestedAt: number;
  readonly state: RunState;
  /** Transitions written to the changelog so far: the seq of its latest run.state record. */
  readonly version: number;
}

/** One transition of one run: the run before it, its new state, and what it does. */
export interface RunWrite {
  readonly run: OwnedRun;
  readonly state: RunState;
  readonly effects: readonly Effect[];
}

/** What the projector needs of a transition's effects: dispatches travel on their own topics. */
export type RecordedEffect = Exclude<Effect, { type: 'dispatch' }>;

/** The changelog record of a transition: the run's new state, and its effects for the projector. */
export function toStateRecord(write: RunWrite, at: number): RunStateRecord {
  const { run, state, effects } = write;
  return {
    ...envelope(run.version + 1, run.workspaceId),
    occurredAt: at,
    type: 'run.state',
    runId: run.id,
    workflowId: run.workflowId,
    workflowVersion: run.workflowVersion,
    tag: run.tag,
    inputJson: JSON.stringify(run.input),
    requestedAt: run.requestedAt,
    stateJson: JSON.stringify(state),
    effectsJson: JSON.stringify(effects.filter((e): e is RecordedEffect => e.type !== 'dispatch')),
  };
}

/** The run a changelog record describes, as of that record. */
export function fromStateRecord(record: RunStateRecord): OwnedRun {
  return {
    id: record.runId,
    workspaceId: record.workspaceId,
    workflowId: record.workflowId,
    workflowVersion: record.workflowVersion,
    input: JSON.parse(record.inputJson) as unknown,
    tag: record.tag,
    requestedAt: record.requestedAt,
    state: JSON.parse(record.stateJson) as RunState,
    version: record.seq,
  };
}

export const recordedEffects = (record: RunStateRecord): RecordedEffect[] =>
  JSON.parse(record.effectsJson) as RecordedEffect[];
