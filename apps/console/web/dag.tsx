import { useEffect, useMemo, useState } from 'preact/hooks';
import type { WorkflowDefinition } from '#libs/workflows';
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH, type GraphLayout } from './graph-layout';

/**
 * A workflow's graph as SVG. Give it a `layout` computed elsewhere (the Web Worker does it for a workflow's view) or a
 * `definition` to lay out here (a run's pinned version); `states` colours the nodes (a run's node statuses).
 */
export function Dag(props: { layout?: GraphLayout; definition?: WorkflowDefinition; states?: Record<string, string> }) {
  const laid = useMemo(
    () => props.layout ?? (props.definition ? layoutGraph(props.definition) : undefined),
    [props.layout, props.definition],
  );
  const shown = useProgressive(laid ? laid.nodes.length + laid.edges.length : 0);
  if (!laid) return null;
  // Edges first (they are drawn under the nodes), then nodes, a slice per frame.
  const edges = laid.edges.slice(0, shown);
  const nodes = laid.nodes.slice(0, Math.max(0, shown - laid.edges.length));
  return (
    <div class="dag-frame">
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
        {edges.map((edge) => (
          <polyline
            key={edge.key}
            class="edge"
            marker-end="url(#arrow)"
            points={edge.points.map((p) => `${p.x},${p.y}`).join(' ')}
          />
        ))}
        {nodes.map((node) => {
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
                {state ? `${node.type} · ${state}` : node.type}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

/** Elements drawn per frame: a few hundred SVG elements at once would hold the main thread past 50 ms. */
const PER_FRAME = 60;

/** How many of `total` elements to draw now: all of a small graph, a large one a slice per animation frame. */
function useProgressive(total: number): number {
  const [shown, setShown] = useState(Math.min(total, PER_FRAME));
  useEffect(() => {
    setShown(Math.min(total, PER_FRAME));
    if (total <= PER_FRAME) return;
    let frame = 0;
    const step = () => {
      setShown((n) => {
        const next = Math.min(total, n + PER_FRAME);
        if (next < total) frame = requestAnimationFrame(step);
        return next;
      });
    };
    frame = requestAnimationFrame(step);
    return () => cancelAnimationFrame(frame);
  }, [total]);
  return shown;
}
