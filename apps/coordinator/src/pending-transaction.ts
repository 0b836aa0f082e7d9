import type { BatchStart } from './rewinds.js';
import type { RunMessage } from './run-messages.js';

/**
 * The next transaction of a transaction group: while the one before it commits, the batches applied meanwhile add
 * their messages here, and it is written, all of them at once, when that one ended. Whoever added something learns
 * the outcome from `done`; what only a committed transaction may do (counting finished runs, logging them) waits in
 * `onCommit`.
 */
export class PendingTransaction {
  readonly messages: RunMessage[] = [];
  /** The input batches applied into it, in the order they were. */
  readonly batches: BatchStart[] = [];
  readonly onCommit: (() => void)[] = [];
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (error: Error) => void;

  /** `previous` is the transaction this one waits for. */
  constructor(readonly previous: Promise<void>) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Awaited by the transport, or not at all when nothing was added yet: never an unhandled rejection.
    this.done.catch(() => undefined);
  }

  add(messages: readonly RunMessage[], batches: readonly BatchStart[], onCommit: () => void): void {
    for (const message of messages) this.messages.push(message);
    this.batches.push(...batches);
    this.onCommit.push(onCommit);
  }

  committed(): void {
    this.resolve();
    for (const callback of this.onCommit) callback();
  }

  failed(error: unknown): void {
    this.reject(error instanceof Error ? error : new Error(`transaction failed: ${String(error)}`));
  }
}
