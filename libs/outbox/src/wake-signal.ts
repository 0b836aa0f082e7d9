/**
 * Wakes the relay loop when Postgres announces new outbox rows (`NOTIFY outbox_new`). A notification that arrives
 * while the loop is busy is remembered, so rows committed during a batch are claimed right after it instead of waiting
 * for the next poll.
 */
export class WakeSignal {
  private pending = false;
  private wakeWaiter: (() => void) | undefined;

  notify(): void {
    this.pending = true;
    this.wakeWaiter?.();
  }

  /** Clears and returns whether a notification came since the last call. */
  consume(): boolean {
    const pending = this.pending;
    this.pending = false;
    return pending;
  }

  /**
   * Resolves after `ms`, or at once when notified (also by a notification that came before the call), or when `signal`
   * aborts. Does not consume the notification: the caller decides what it means.
   */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted || ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.wakeWaiter = resolve;
        onAbort = resolve;
        signal.addEventListener('abort', onAbort, { once: true });
        timer = setTimeout(resolve, ms);
      });
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
      this.wakeWaiter = undefined;
    }
  }
}

/** Sleeps `ms`, or less if `signal` aborts first (stop must not wait out a long backoff). */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  await new WakeSignal().wait(ms, signal);
}
