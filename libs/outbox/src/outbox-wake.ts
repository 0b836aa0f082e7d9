import type { Pool } from 'pg';

/** The statement by which a transaction's writer says it wakes the relays itself after committing (migration 0004). */
export const SKIP_OUTBOX_TRIGGER = "SELECT set_config('outbox.notify', 'off', true)";

/**
 * Wakes the relays after commits, at most one NOTIFY in flight: calls that arrive meanwhile are folded into one more
 * NOTIFY once it returns, so a burst of commits costs two notifications, not one each. A lost wake-up only delays
 * publishing until the relays' next poll.
 */
export class OutboxWaker {
  private inFlight = false;
  private again = false;

  constructor(private readonly pool: Pool) {}

  wake(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    void this.pool
      .query("SELECT pg_notify('outbox_new', '')")
      .catch(() => undefined)
      .finally(() => {
        this.inFlight = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }
}
