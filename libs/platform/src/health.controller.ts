import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DependencyChecks } from './dependency-checks.js';
import { ROLES } from './tokens.js';
import { Public } from './public-route.js';

@Controller()
export class HealthController {
  constructor(
    private readonly checks: DependencyChecks,
    @Inject(ROLES) private readonly roles: readonly string[],
  ) {}

  @Get('health')
  @Public()
  async health(@Res() reply: FastifyReply): Promise<void> {
    const checks = await this.checks.run();
    const ok = Object.values(checks).every((c) => c.ok);
    if (ok) {
      await reply.status(200).send({ status: 'ok', roles: this.roles, checks });
      return;
    }
    const failing = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([name, c]) => `${name}: ${c.error ?? 'unreachable'}`);
    await reply
      .status(503)
      .header('content-type', 'application/problem+json')
      .send({
        type: 'urn:orchestrator:problem:dependency-unavailable',
        title: 'Not ready',
        status: 503,
        detail: failing.join('; '),
        roles: this.roles,
        checks,
      });
  }
}
