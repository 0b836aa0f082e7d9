import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import { mergeProcessMetrics, type ProcessMetrics } from './process-metrics-merge.js';

/** What the API processes sharing a port and their supervisor say to each other over the cluster IPC channel. */
export type HttpProcessMessage =
  | { type: 'orchestrator:ready'; index: number }
  /** A process was scraped: it asks the supervisor for every process's metrics. */
  | { type: 'orchestrator:metrics-request'; id: string }
  | { type: 'orchestrator:metrics-collect'; id: string }
  | ({ type: 'orchestrator:metrics-part'; id: string } & ProcessMetrics)
  | { type: 'orchestrator:metrics-parts'; id: string; parts: ProcessMetrics[] };

export const isHttpProcessMessage = (value: unknown): value is HttpProcessMessage =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { type?: unknown }).type === 'string' &&
  (value as { type: string }).type.startsWith('orchestrator:');

/** This process's index among the API processes sharing one port, when it is one of them (a cluster worker). */
export function httpProcessIndex(): number | undefined {
  const index = process.env.HTTP_PROCESS_INDEX;
  return cluster.isWorker && index !== undefined ? Number(index) : undefined;
}

function send(message: HttpProcessMessage): void {
  process.send?.(message);
}

export function announceReady(index: number): void {
  send({ type: 'orchestrator:ready', index });
}

/**
 * /metrics for one of several processes on one port: a scrape lands on any of them, so each answers with all of them,
 * collected through the supervisor and labelled by process (see mergeProcessMetrics). A process that does not answer
 * within `timeoutMs` (busy, or restarting) is left out of that scrape rather than failing it.
 */
export function clusterMetricsSource(registry: Registry, index: number, timeoutMs = 3_000): () => Promise<string> {
  const pending = new Map<string, (parts: ProcessMetrics[]) => void>();
  process.on('message', (message: unknown) => {
    if (!isHttpProcessMessage(message)) return;
    if (message.type === 'orchestrator:metrics-collect') {
      void registry
        .getMetricsAsJSON()
        .then((metrics) => send({ type: 'orchestrator:metrics-part', id: message.id, index, metrics }));
    } else if (message.type === 'orchestrator:metrics-parts') {
      pending.get(message.id)?.(message.parts);
    }
  });
  return async () => {
    const id = randomUUID();
    const parts = await new Promise<ProcessMetrics[] | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs + 1_000);
      pending.set(id, (received) => {
        clearTimeout(timer);
        resolve(received);
      });
      send({ type: 'orchestrator:metrics-request', id });
    }).finally(() => pending.delete(id));
    // The supervisor did not answer at all (it is going away): this process's own figures are better than none.
    return mergeProcessMetrics(parts ?? [{ index, metrics: await registry.getMetricsAsJSON() }]);
  };
}
