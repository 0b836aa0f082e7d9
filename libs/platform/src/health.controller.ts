import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { health, livez, readyz, routerPath, type RouteOutput } from '#libs/api-contract';
import { DependencyChecks, type DependencyReport } from './dependency-checks.js';
import { problemBody } from './problems.js';
import { Public } from './public-route.js';
import { Readiness } from './readiness.js';
import { ROLES } from './tokens.js';

/**
 * /health (dependencies), /livez (the event loop answers: no dependency, so an outage does not restart every pod) and
 * /readyz (dependencies, consumer groups joined, not draining). Public: probes carry no key, and the answers name no
 * address or user.
 */
@Controller()
export class HealthController {
  constructor(
    private readonly checks: DependencyChecks,
    private readonly readiness: Readiness,
    @Inject(ROLES) private readonly roles: readonly string[],
  ) {}

  @Get(routerPath(health))
  @Public()
  async health(@Res() reply: FastifyReply): Promise<void> {
    const checks = await this.checks.run();
    const failing = failures(checks);
    if (!failing.length) {
      const body: RouteOutput<typeof health> = { status: 'ok', roles: [...this.roles], checks };
      await reply.status(200).send(body);
      return;
    }
    await notReady(reply, failing, { roles: this.roles, checks });
  }

  @Get(routerPath(livez))
  @Public()
  livez(): RouteOutput<typeof livez> {
    return { status: 'alive' };
  }

  @Get(routerPath(readyz))
  @Public()
  async readyz(@Res() reply: FastifyReply): Promise<void> {
    const checks = await this.checks.run();
    const consumers = this.readiness.consumerStates();
    const draining = this.readiness.draining;
    const failing = [
      ...failures(checks),
      ...consumers.filter((c) => !c.joined).map((c) => `consumer group ${c.name}: not joined`),
      ...(draining ? ['draining: shutting down'] : []),
    ];
    if (!failing.length) {
      const body: RouteOutput<typeof readyz> = { status: 'ready', roles: [...this.roles], checks, consumers, draining };
      await reply.status(200).send(body);
      return;
    }
    await notReady(reply, failing, { roles: this.roles, checks, consumers, draining });
  }
}

const failures = (checks: DependencyReport): string[] =>
  Object.entries(checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name}: ${c.error ?? 'unreachable'}`);

async function notReady(reply: FastifyReply, failing: string[], state: Record<string, unknown>): Promise<void> {
  await reply
    .status(503)
    .header('content-type', 'application/problem+json')
    .send({ ...problemBody('dependency_unavailable', failing.join('; ')), title: 'Not ready', ...state });
}
