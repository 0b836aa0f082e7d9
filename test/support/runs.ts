import type { TestApp } from './app.js';
import { eventually } from './app.js';

export interface RunReply {
  id: string;
  status: string;
  workflowVersion: number;
  nodes: Record<string, { status: string; attempts: number; output?: unknown; outputRef?: string; error?: string }>;
  output?: unknown;
  error?: string;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timed_out']);

export async function createWorkflow(api: TestApp, definition: unknown, name = 'wf'): Promise<string> {
  const reply = await api.request<{ id: string }>('POST', '/v1/workflows', { body: { name, definition } });
  if (reply.status !== 201) throw new Error(`create workflow: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.id;
}

export async function startRun(
  api: TestApp,
  workflowId: string,
  input: unknown = {},
  headers?: Record<string, string>,
): Promise<string> {
  const reply = await api.request<{ runId: string }>('POST', `/v1/workflows/${workflowId}/runs`, {
    body: { input },
    ...(headers ? { headers } : {}),
  });
  if (reply.status !== 202) throw new Error(`start run: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.runId;
}

export async function readRun(api: TestApp, runId: string): Promise<RunReply> {
  const reply = await api.request<RunReply>('GET', `/v1/runs/${runId}`);
  if (reply.status !== 200) throw new Error(`read run: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/** Polls the run until `until` holds (by default: it ended). */
export function waitForRun(
  api: TestApp,
  runId: string,
  until: (run: RunReply) => boolean = (run) => TERMINAL.has(run.status),
  timeoutMs = 20_000,
): Promise<RunReply> {
  return eventually(
    async () => {
      const run = await readRun(api, runId);
      return until(run) ? run : undefined;
    },
    `run ${runId}`,
    timeoutMs,
  );
}
