import { randomUUID } from 'node:crypto';

/** The same keys and payloads for the relay and the Kafka baseline, so the two move identical bytes. */
export interface MessageSet {
  readonly keys: readonly string[];
  key(index: number): string;
  payload(index: number): Buffer;
}

/**
 * `keyCount` workflow-like keys (uuids) used in turn, and payloads of `payloadBytes` shaped like an encoded event:
 * a few ids and some JSON, so compression sees roughly what it would in production.
 */
export function messageSet(keyCount: number, payloadBytes: number): MessageSet {
  const keys = Array.from({ length: keyCount }, () => randomUUID());
  const key = (index: number) => keys[index % keys.length] as string;
  return {
    keys,
    key,
    payload: (index) => {
      const text = JSON.stringify({
        eventId: randomUUID(),
        workflowId: key(index),
        seq: index,
        ops: [{ op: 'replace', path: '/nodes/a/config/expression', value: `$.input.x + ${index}` }],
      });
      return Buffer.from(text.padEnd(payloadBytes, ' ').slice(0, payloadBytes));
    },
  };
}
