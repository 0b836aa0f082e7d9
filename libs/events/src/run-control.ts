import { envelope } from './event-envelope.js';
import type { RunControl } from './generated/event-types.js';

type ControlFields = Pick<RunControl, 'workspaceId' | 'runId' | 'kind'> &
  Partial<Pick<RunControl, 'timerKind' | 'nodeId' | 'attempt' | 'reason'>>;

/** A run.control command (cancel, fired timer, poisoned task); seq 0, as commands are not a numbered stream. */
export const runControlEvent = (fields: ControlFields): RunControl => ({
  ...envelope(0, fields.workspaceId),
  type: 'run.control',
  runId: fields.runId,
  kind: fields.kind,
  timerKind: fields.timerKind ?? null,
  nodeId: fields.nodeId ?? null,
  attempt: fields.attempt ?? null,
  reason: fields.reason ?? null,
});
