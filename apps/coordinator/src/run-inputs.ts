import type { NodeCompleted, RunControl, RunRequested } from '#libs/events';
import type { DecodedMessage } from '#libs/messaging';
import type { RunInput } from '#libs/runs';

/** What one coordinator message means for its run: a start (with what the run is), or an input to the state machine. */
export type CoordinatorInput = { kind: 'start'; request: RunRequested } | RunInput;

export function toCoordinatorInput(topic: string, message: DecodedMessage): { runId: string; input: CoordinatorInput } {
  switch (topic) {
    case 'run.requested': {
      const request = message.value as RunRequested;
      return { runId: request.runId, input: { kind: 'start', request } };
    }
    case 'node.completed': {
      const event = message.value as NodeCompleted;
      return {
        runId: event.runId,
        input: {
          kind: 'completed',
          nodeId: event.nodeId,
          attempt: event.attempt,
          succeeded: event.status === 'succeeded',
          ...(event.status === 'timed_out' ? { timedOut: true } : {}),
          ...(event.outputJson === null ? {} : { output: JSON.parse(event.outputJson) as unknown }),
          ...(event.outputRef === null ? {} : { outputRef: event.outputRef }),
          ...(event.error === null ? {} : { error: event.error }),
          at: event.occurredAt,
        },
      };
    }
    case 'run.control': {
      const event = message.value as RunControl;
      return { runId: event.runId, input: controlInput(event) };
    }
    default:
      throw new Error(`the coordinator does not read ${topic}`);
  }
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
