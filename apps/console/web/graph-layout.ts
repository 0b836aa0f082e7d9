import { Graph, layout, type GraphLabel } from '@dagrejs/dagre';
import type { WorkflowDefinition } from '#libs/workflows';

export const NODE_WIDTH = 150;
export const NODE_HEIGHT = 44;

interface Box {
  width: number;
  height: number;
  x: number;
  y: number;
}
interface Route {
  points?: { x: number; y: number }[];
}

/** Where dagre puts a workflow's nodes and edges: plain data, so the Web Worker can compute it and post it. */
export interface GraphLayout {
  readonly width: number;
  readonly height: number;
  readonly nodes: { id: string; type: string; x: number; y: number }[];
  readonly edges: { key: string; points: { x: number; y: number }[] }[];
}

/** Lays a workflow out left to right (dagre's layered layout); edges to unknown nodes are left out. */
export function layoutGraph(definition: WorkflowDefinition): GraphLayout {
  const graph = new Graph<GraphLabel, Box, Route>({ multigraph: true });
  graph.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 56, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const id of Object.keys(definition.nodes)) {
    graph.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT, x: 0, y: 0 });
  }
  definition.edges.forEach((edge, i) => {
    if (graph.hasNode(edge.from) && graph.hasNode(edge.to)) graph.setEdge(edge.from, edge.to, {}, String(i));
  });
  layout(graph);
  const size = graph.graph();
  return {
    width: (size.width ?? 0) + 16,
    height: (size.height ?? 0) + 16,
    nodes: graph.nodes().map((id) => {
      const box = graph.node(id);
      return { id, type: definition.nodes[id]?.type ?? '', x: box.x, y: box.y };
    }),
    edges: graph.edges().map((e) => ({ key: `${e.v}-${e.w}-${e.name ?? ''}`, points: graph.edge(e).points ?? [] })),
  };
}
