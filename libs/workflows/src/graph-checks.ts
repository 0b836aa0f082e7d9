import { isRecord } from './schema-errors.js';

/**
 * The graph rules of a definition (API.md: a node runs when all its incoming edges are satisfied; nodes without one
 * are entry nodes): edges join existing nodes, no self-loops, no duplicate edges, no cycles, at least one entry node.
 * Runs on a shape that may still have errors elsewhere, so it skips edges whose `from`/`to` are not strings (the schema
 * already reported them) and reports everything else it can.
 */
export function graphErrors(nodeIds: readonly string[], edges: readonly unknown[]): string[] {
  const errors: string[] = [];
  const known = new Set(nodeIds);
  const successors = new Map<string, string[]>(nodeIds.map((id) => [id, []]));
  const hasIncoming = new Set<string>();
  const firstEdge = new Map<string, number>();

  edges.forEach((edge, index) => {
    if (!isRecord(edge) || typeof edge.from !== 'string' || typeof edge.to !== 'string') return;
    const { from, to } = edge;
    let joinsNodes = true;
    for (const [end, id] of [
      ['from', from],
      ['to', to],
    ] as const) {
      if (!known.has(id)) {
        errors.push(`edges[${index}].${end}: no node "${id}"`);
        joinsNodes = false;
      }
    }
    if (!joinsNodes) return;
    hasIncoming.add(to);
    if (from === to) {
      errors.push(`edges[${index}]: self-loop on "${from}"`);
      return;
    }
    const key = JSON.stringify([from, to]);
    const first = firstEdge.get(key);
    if (first !== undefined) {
      errors.push(`edges[${index}]: duplicate of edges[${first}] (${from} -> ${to})`);
      return;
    }
    firstEdge.set(key, index);
    successors.get(from)?.push(to);
  });

  for (const cycle of findCycles(nodeIds, successors)) errors.push(`edges: cycle through ${cycle.join(' -> ')}`);
  if (nodeIds.length > 0 && nodeIds.every((id) => hasIncoming.has(id))) {
    errors.push('nodes: no entry node (every node has an incoming edge, so nothing could start)');
  }
  return errors;
}

/**
 * One cycle per strongly connected component with more than one node (Tarjan), written `a -> b -> a`, starting at
 * the component's earliest-declared node. One per component keeps the list short: fixing it usually means removing
 * one edge, and reporting every cycle could be exponential.
 */
function findCycles(nodeIds: readonly string[], successors: ReadonlyMap<string, readonly string[]>): string[][] {
  const order = new Map(nodeIds.map((id, i) => [id, i]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];

  // Recursion depth is bounded by the node limit (500), well within the call stack.
  const visit = (id: string): void => {
    index.set(id, index.size);
    low.set(id, index.get(id)!);
    stack.push(id);
    onStack.add(id);
    for (const next of successors.get(id) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(id, Math.min(low.get(id)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(id, Math.min(low.get(id)!, index.get(next)!));
      }
    }
    if (low.get(id) === index.get(id)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== id);
      if (component.length > 1) components.push(component);
    }
  };
  for (const id of nodeIds) if (!index.has(id)) visit(id);

  return components
    .map((component) => component.sort((a, b) => order.get(a)! - order.get(b)!))
    .sort((a, b) => order.get(a[0]!)! - order.get(b[0]!)!)
    .map((component) => shortestCycle(component, successors));
}

/** Breadth-first from the component's first node back to itself, staying inside the component. */
function shortestCycle(component: readonly string[], successors: ReadonlyMap<string, readonly string[]>): string[] {
  const start = component[0]!;
  const inside = new Set(component);
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head]!;
    for (const next of successors.get(id) ?? []) {
      if (next === start) {
        const path = [start];
        for (let at: string | undefined = id; at !== undefined && at !== start; at = cameFrom.get(at)) path.push(at);
        return [start, ...path.slice(1).reverse(), start];
      }
      if (inside.has(next) && !cameFrom.has(next)) {
        cameFrom.set(next, id);
        queue.push(next);
      }
    }
  }
  return [...component, start]; // unreachable for a strongly connected component
}
