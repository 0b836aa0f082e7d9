import { z } from 'zod';
import { idParam } from '../common.js';
import { EXAMPLE_IDS } from '../example-ids.js';
import { defineRoute } from '../route.js';

const streamHeaders = z.object({
  'last-event-id': z
    .string()
    .regex(/^\s*(\d{1,16})?\s*$/, { error: 'must be an event id this stream sent' })
    .optional()
    .meta({ description: 'Resume after this event (what an EventSource sends when it reconnects).' }),
});

const streamQuery = z.object({
  lastEventId: z
    .string()
    .regex(/^\s*(\d{1,16})?\s*$/, { error: 'must be an event id this stream sent' })
    .optional()
    .meta({ description: 'The same as Last-Event-ID, for clients that cannot set headers.' }),
});

/** What both streams share: a keyed GET answered with text/event-stream, resumable. */
const stream = {
  method: 'get',
  tag: 'events',
  access: 'read',
  headers: streamHeaders,
  query: streamQuery,
  status: 200,
  problems: [400, 404],
  response: {
    description:
      'Server-Sent Events: `id: <n>` numbered 1, 2, 3... per stream, `event: <type>`, `data: <JSON>`; history first, ' +
      'then live events. Resume with Last-Event-ID.',
    schema: z.string(),
    contentType: 'text/event-stream',
  },
} as const;

export const runEvents = defineRoute({
  ...stream,
  operationId: 'streamRunEvents',
  path: '/v1/runs/{id}/events',
  summary: "A run's events as Server-Sent Events",
  params: z.object({ id: idParam('run') }),
  example: { params: { id: EXAMPLE_IDS.run } },
});

export const workflowEvents = defineRoute({
  ...stream,
  operationId: 'streamWorkflowEvents',
  path: '/v1/workflows/{id}/events',
  summary: "A workflow's events (patches decided, versions materialized) as Server-Sent Events",
  params: z.object({ id: idParam('workflow') }),
  example: { params: { id: EXAMPLE_IDS.workflow } },
});

export const EVENT_ROUTES = [runEvents, workflowEvents] as const;
