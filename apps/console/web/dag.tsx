import { Graph, layout, type GraphLabel } from '@dagrejs/dagre';
import { useMemo } from 'preact/hooks';
import type { WorkflowDefinition } from '#libs/workflows';

const NODE_WIDTH = 150;
const NODE_HEIGHT = 44;

interface Box {
  width: number;
  height: number;
  x: number;
  y: number;
}
interface Route {
  points?: { x: number; y: number }[];
}

/** A workflow's graph laid out left to right by dagre; `states` colours nodes (a run's node statuses). */
export function Dag(props: { definition: WorkflowDefinition; states?: Record<string, string> }) {
  const laid = useMemo(() => {
    const graph = new Graph<GraphLabel, Box, Route>({ multigraph: true });
    graph.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 56, marginx: 8, marginy: 8 });
    graph.setDefaultEdgeLabel(() => ({}));
    for (const id of Object.keys(props.definition.nodes)) {
      graph.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT, x: 0, y: 0 });
    }
    props.definition.edges.forEach((edge, i) => {
      if (graph.hasNode(edge.from) && graph.hasNode(edge.to)) graph.setEdge(edge.from, edge.to, {}, String(i));
    });
    layout(graph);
    const size = graph.graph();
    return {
      width: (size.width ?? 0) + 16,
      height: (size.height ?? 0) + 16,
      nodes: graph.nodes().map((id) => ({ id, ...graph.node(id) })),
      edges: graph.edges().map((e) => ({ key: `${e.v}-${e.w}-${e.name ?? ''}`, points: graph.edge(e).points ?? [] })),
    };
  }, [props.definition]);
  return (
    <svg
      class="dag"
      data-testid="dag"
      width={laid.width}
      height={laid.height}
      viewBox={`0 0 ${laid.width} ${laid.height}`}
    >
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" />
        </marker>
      </defs>
      {laid.edges.map((edge) => (
        <polyline
          key={edge.key}
          class="edge"
          marker-end="url(#arrow)"
          points={edge.points.map((p) => `${p.x},${p.y}`).join(' ')}
        />
      ))}
      {laid.nodes.map((node) => {
        const type = props.definition.nodes[node.id]?.type ?? '';
        const state = props.states?.[node.id];
        return (
          <g
            key={node.id}
            class={`node ${state ?? ''}`}
            data-node={node.id}
            data-state={state}
            transform={`translate(${node.x - NODE_WIDTH / 2},${node.y - NODE_HEIGHT / 2})`}
          >
            <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx="6" />
            <text x="10" y="18" class="id">
              {node.id}
            </text>
            <text x="10" y="35" class="type">
              {type}
              {state ? ` · ${state}` : ''}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
