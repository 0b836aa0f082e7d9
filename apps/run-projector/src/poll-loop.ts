/**
 * A background loop for the projector's periodic work: runs `turn` until stopped, sleeping as long as each turn asks
 * (0: go again at once). `stop()` wakes a sleeping loop and waits for the turn in progress. A turn handles its own
 * errors: the loop never ends by itself.
 */
export class PollLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  /** False once stop() was called: long turns check it to finish early. */
  get active(): boolean {
    return this.running;
  }

  start(turn: () => Promise<number>): void {
    this.running = true;
    this.loop = this.run(turn);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(turn: () => Promise<number>): Promise<void> {
    while (this.running) {
      const sleepMs = await turn();
      if (sleepMs > 0 && this.running) await this.sleep(sleepMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
