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

const stream = {
  description:
    'Server-Sent Events: `id: <n>` numbered 1, 2, 3... per stream, `event: <type>`, `data: <JSON>`; history first, ' +
    'then live events. Resume with Last-Event-ID.',
  schema: z.string(),
  contentType: 'text/event-stream',
};

export const runEvents = defineRoute({
  operationId: 'streamRunEvents',
  method: 'get',
  path: '/v1/runs/{id}/events',
  tag: 'events',
  summary: "A run's events as Server-Sent Events",
  access: 'read',
  params: z.object({ id: idParam('run') }),
  headers: streamHeaders,
  query: streamQuery,
  status: 200,
  response: stream,
  problems: [400, 404],
  example: { params: { id: EXAMPLE_IDS.run } },
});

export const workflowEvents = defineRoute({
  operationId: 'streamWorkflowEvents',
  method: 'get',
  path: '/v1/workflows/{id}/events',
  tag: 'events',
  summary: "A workflow's events (patches decided, versions materialized) as Server-Sent Events",
  access: 'read',
  params: z.object({ id: idParam('workflow') }),
  headers: streamHeaders,
  query: streamQuery,
  status: 200,
  response: stream,
  problems: [400, 404],
  example: { params: { id: EXAMPLE_IDS.workflow } },
});

export const EVENT_ROUTES = [runEvents, workflowEvents] as const;
