import type { SpilledJson } from '#libs/cas';
import { envelope, type RunStateRecord } from '#libs/events';
import type { Effect, RunState } from '#libs/runs';

/** A run as its coordinator holds it in memory: identity, what it runs, its state and how many transitions it had. */
export interface OwnedRun {
  readonly id: string;
  readonly workspaceId: string;
  readonly workflowId: string;
  readonly workflowVersion: number;
  readonly input: unknown;
  /** Where the input's JSON is stored when it is too large to travel inline, so it is stored once, not per record. */
  readonly inputRef?: string;
  readonly tag: string | null;
  /** The permission of the API key that started the run (null: not recorded, its nodes bypass the cache). */
  readonly permission: string | null;
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

/** Stores a JSON text too large to travel inline and gives the reference instead (ContentStore.spill). */
export type SpillJson = (json: string) => Promise<SpilledJson>;
/** The JSON text of a field that may have been spilled (ContentStore.unspill). */
export type UnspillJson = (json: string, ref: string | null) => Promise<string>;

/**
 * The changelog record of a transition: the run's new state, and its effects for the projector. The input, state and
 * effects travel by reference when they are too large, so the record stays small whatever the run holds.
 */
export async function toStateRecord(write: RunWrite, at: number, spill: SpillJson): Promise<RunStateRecord> {
  const { run, state, effects } = write;
  const [input, stateJson, effectsJson] = await Promise.all([
    run.inputRef === undefined ? spill(JSON.stringify(run.input)) : { json: '', ref: run.inputRef },
    spill(JSON.stringify(state)),
    spill(JSON.stringify(effects.filter((e): e is RecordedEffect => e.type !== 'dispatch'))),
  ]);
  return {
    ...envelope(run.version + 1, run.workspaceId),
    occurredAt: at,
    type: 'run.state',
    runId: run.id,
    workflowId: run.workflowId,
    workflowVersion: run.workflowVersion,
    tag: run.tag,
    inputJson: input.json,
    inputRef: input.ref,
    requestedAt: run.requestedAt,
    stateJson: stateJson.json,
    stateRef: stateJson.ref,
    effectsJson: effectsJson.json,
    effectsRef: effectsJson.ref,
    permission: run.permission,
  };
}

/** The run a changelog record describes, as of that record. */
export async function fromStateRecord(record: RunStateRecord, unspill: UnspillJson): Promise<OwnedRun> {
  const [input, state] = await Promise.all([
    unspill(record.inputJson, record.inputRef),
    unspill(record.stateJson, record.stateRef),
  ]);
  return {
    id: record.runId,
    workspaceId: record.workspaceId,
    workflowId: record.workflowId,
    workflowVersion: record.workflowVersion,
    input: JSON.parse(input) as unknown,
    ...(record.inputRef === null ? {} : { inputRef: record.inputRef }),
    tag: record.tag,
    // Absent from records written before the field existed (decoded with their own schema).
    permission: record.permission ?? null,
    requestedAt: record.requestedAt,
    state: JSON.parse(state) as RunState,
    version: record.seq,
  };
}

/** The content references a run's state holds: its nodes' stored outputs. */
export const outputRefsOf = (run: Pick<OwnedRun, 'state'>): string[] =>
  Object.values(run.state.nodes).flatMap((node) => (node.outputRef === undefined ? [] : [node.outputRef]));

export const recordedEffects = async (record: RunStateRecord, unspill: UnspillJson): Promise<RecordedEffect[]> =>
  JSON.parse(await unspill(record.effectsJson, record.effectsRef)) as RecordedEffect[];
