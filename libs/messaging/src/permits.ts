/**
 * At most `limit` holders at once; the rest wait in arrival order. The coordinator bounds its concurrent Kafka
 * transactions with it: each costs the same few round trips however much it carries, so under load fewer, fuller
 * transactions move more runs than one per partition at once.
 */
export class Permits {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async with<T>(work: () => Promise<T>): Promise<T> {
    if (this.held >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.held++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    }
  }
}
