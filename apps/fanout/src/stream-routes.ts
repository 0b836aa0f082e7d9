import { routerPath, runEvents, workflowEvents } from '#libs/api-contract';

/**
 * The fanout's public routes: its controller serves them, and the API forwards exactly these to the fanout when the
 * two run as separate processes.
 */
export const STREAM_ROUTES = [runEvents, workflowEvents].map((route) => `/${routerPath(route)}`);
