import { createHash, timingSafeEqual } from 'node:crypto';
import { isLoopbackHost } from './loopback-host.js';
import { ProblemError } from './problems.js';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Who may read /metrics. Series name tenants' tags, node types and volumes, so off a loopback address they are not
 * public: with METRICS_TOKEN set, a scrape must send it as a Bearer token (Prometheus: `authorization.credentials`);
 * without it, a process bound elsewhere refuses every scrape and says which variable to set. On loopback (the local
 * default) scrapes need nothing unless a token is set.
 */
export function metricsRefusal(
  config: { HOST: string; METRICS_TOKEN?: string | undefined },
  authorization: string | undefined,
): ProblemError | undefined {
  const token = config.METRICS_TOKEN;
  if (!token) {
    if (isLoopbackHost(config.HOST)) return undefined;
    return new ProblemError(
      'forbidden',
      `/metrics is closed off a loopback address (HOST ${config.HOST}) until METRICS_TOKEN is set`,
    );
  }
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (presented !== undefined && timingSafeEqual(digest(presented), digest(token))) return undefined;
  return new ProblemError('unauthenticated', 'send METRICS_TOKEN as "Authorization: Bearer <token>"');
}
