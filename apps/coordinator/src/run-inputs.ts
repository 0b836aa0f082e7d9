import type { NodeCompleted, RunControl, RunRequested } from '#libs/events';
import type { AnyEventBatch, DecodedMessage } from '#libs/messaging';
import type { RunInput } from '#libs/runs';

/** What one coordinator message means for its run: a start (with what the run is), or an input to the state machine. */
export type CoordinatorInput = { kind: 'start'; request: RunRequested } | RunInput;

/** A batch of one of the three co-partitioned topics the coordinator reads. */
export type CoordinatorBatch = AnyEventBatch<'run.requested' | 'node.completed' | 'run.control'>;

export interface RunMessageInput {
  readonly runId: string;
  readonly input: CoordinatorInput;
  readonly message: DecodedMessage;
}

/** Each message of the batch as the input it is for its run, in offset order. */
export function coordinatorInputs(batch: CoordinatorBatch): RunMessageInput[] {
  switch (batch.topic) {
    case 'run.requested':
      return batch.messages.map((message) => ({
        runId: message.value.runId,
        input: { kind: 'start', request: message.value },
        message,
      }));
    case 'node.completed':
      return batch.messages.map((message) => ({
        runId: message.value.runId,
        input: completedInput(message.value),
        message,
      }));
    case 'run.control':
      return batch.messages.map((message) => ({
        runId: message.value.runId,
        input: controlInput(message.value),
        message,
      }));
    default: {
      const unknownBatch: never = batch;
      throw new Error(`the coordinator does not read ${(unknownBatch as { topic: string }).topic}`);
    }
  }
}

function completedInput(event: NodeCompleted): RunInput {
  return {
    kind: 'completed',
    nodeId: event.nodeId,
    attempt: event.attempt,
    succeeded: event.status === 'succeeded',
    ...(event.status === 'timed_out' ? { timedOut: true } : {}),
    ...(event.outputJson === null ? {} : { output: JSON.parse(event.outputJson) as unknown }),
    ...(event.outputRef === null ? {} : { outputRef: event.outputRef }),
    ...(event.error === null ? {} : { error: event.error }),
    at: event.occurredAt,
    // Absent (not null) in completions written before the field existed.
    ...(event.cached ? { cached: { ...event.cached } } : {}),
  };
}

function controlInput(event: RunControl): RunInput {
  switch (event.kind) {
    case 'cancel':
      return { kind: 'cancel', ...(event.reason === null ? {} : { reason: event.reason }) };
    case 'poison':
      return { kind: 'poison', reason: event.reason ?? 'a task of this run could not be handled' };
    case 'timer':
      if (event.timerKind === null) throw new Error('a timer event without timerKind');
      return {
        kind: 'timer',
        timer: event.timerKind,
        ...(event.nodeId === null ? {} : { nodeId: event.nodeId }),
        ...(event.attempt === null ? {} : { attempt: event.attempt }),
      };
    default: {
      const unknownKind: never = event.kind;
      throw new Error(`unknown run.control kind ${String(unknownKind)}`);
    }
  }
}
