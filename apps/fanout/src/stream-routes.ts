/**
 * The fanout's public routes, in one place: its controller serves them, and the API forwards exactly these to the
 * fanout when the two run as separate processes.
 */
export const RUN_EVENTS_ROUTE = '/v1/runs/:id/events';
export const WORKFLOW_EVENTS_ROUTE = '/v1/workflows/:id/events';
export const STREAM_ROUTES = [RUN_EVENTS_ROUTE, WORKFLOW_EVENTS_ROUTE] as const;
