import { Injectable, type OnModuleDestroy } from '@nestjs/common';

/** Something this process consumes with, and whether it is currently a member of its group. */
export interface ConsumerMembership {
  readonly groupId: string;
  readonly joined: boolean;
}

/**
 * What /readyz reports beyond the dependencies: the process's consumer groups have joined and it is not shutting
 * down. A load balancer stops sending to a draining process before its HTTP server closes.
 */
@Injectable()
export class Readiness implements OnModuleDestroy {
  private readonly consumers: ConsumerMembership[] = [];
  private closing = false;

  track(consumer: ConsumerMembership): void {
    this.consumers.push(consumer);
  }

  consumerStates(): { name: string; joined: boolean }[] {
    return this.consumers.map((consumer) => ({ name: consumer.groupId, joined: consumer.joined }));
  }

  get draining(): boolean {
    return this.closing;
  }

  onModuleDestroy(): void {
    this.closing = true;
  }
}
