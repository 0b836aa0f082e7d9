import type { WorkflowDefinition } from './workflow-definition.js';

/** The example of API.md ("Workflow definition"), with real JSONata in place of its placeholders. */
export const apiExample = (): WorkflowDefinition => ({
  nodes: {
    fetch: {
      type: 'http_request',
      config: { method: 'GET', url: 'https://example.org/x' },
      timeoutMs: 5000,
      retry: { maxAttempts: 3, backoffMs: 200 },
    },
    shape: { type: 'function', config: { expression: '{ "title": nodes.fetch.body.title, "who": input.user }' } },
    review: { type: 'hitl', config: { prompt: 'Approve?' } },
    wait: { type: 'delay', config: { ms: 1000 } },
  },
  edges: [
    { from: 'fetch', to: 'shape' },
    { from: 'shape', to: 'review', when: '$exists(nodes.shape.title) and nodes.fetch.status = 200' },
  ],
});

/** A definition of `delay` nodes joined by `edges` written as `a->b`. */
export const graph = (ids: string[], edges: string[]): WorkflowDefinition => ({
  nodes: Object.fromEntries(ids.map((id) => [id, { type: 'delay', config: { ms: 0 } }])),
  edges: edges.map((edge) => {
    const [from = '', to = ''] = edge.split('->');
    return { from, to };
  }),
});
