import { messageBytes } from '#libs/kafka';
import type { RunWrite } from './owned-run.js';
import type { RunMessage } from './run-messages.js';

/** A transition whose messages are ready to send, every one of them under the size limit. */
export interface BoundedWrite {
  readonly write: RunWrite;
  readonly messages: readonly RunMessage[];
}

export interface BoundOptions {
  /** The transition's messages (large inputs, configs and states already spilled to content-addressed storage). */
  readonly build: (write: RunWrite) => Promise<RunMessage[]>;
  /** The run's transition to failed with this reason instead, from its state before `write`; null if none. */
  readonly fail: (write: RunWrite, reason: string) => Promise<RunWrite | null>;
  readonly maxBytes: number;
  /** Told about each run failed here, and about each whose failure itself was too large to write (then dropped). */
  readonly onTooLarge: (write: RunWrite, reason: string, dropped: boolean) => void;
}

/**
 * Keeps one run's size from failing its partition's transaction forever: the broker refuses a message past its
 * message.max.bytes, and the same inputs would build the same message on every retry. Large JSON already travels by
 * reference, so what can still be too large is what stays inline (a huge event detail, thousands of nodes): such a
 * run fails with a `RunTooLarge` reason instead, which writes only small messages. If even that is too large, the
 * transition is dropped and reported, and the rest of the partition goes on.
 */
export async function boundWrites(writes: readonly RunWrite[], options: BoundOptions): Promise<BoundedWrite[]> {
  const bounded: BoundedWrite[] = [];
  for (const write of writes) {
    const messages = await options.build(write);
    const largest = largestMessage(messages);
    if (!largest || largest.bytes <= options.maxBytes) {
      bounded.push({ write, messages });
      continue;
    }
    const reason =
      `RunTooLarge: its ${largest.topic} message would be ${largest.bytes} bytes, over the ` +
      `${options.maxBytes} bytes a Kafka message may have (KAFKA_MESSAGE_MAX_BYTES)`;
    const failed = await options.fail(write, reason);
    const failedMessages = failed && (await options.build(failed));
    const fits = failedMessages !== null && (largestMessage(failedMessages)?.bytes ?? 0) <= options.maxBytes;
    options.onTooLarge(write, reason, !fits);
    if (failed && failedMessages && fits) bounded.push({ write: failed, messages: failedMessages });
  }
  return bounded;
}

function largestMessage(messages: readonly RunMessage[]): { topic: string; bytes: number } | undefined {
  let largest: { topic: string; bytes: number } | undefined;
  for (const { topic, message } of messages) {
    const bytes = messageBytes(message);
    if (!largest || bytes > largest.bytes) largest = { topic, bytes };
  }
  return largest;
}
