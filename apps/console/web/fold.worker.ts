/// <reference lib="webworker" />
import { createApiClient } from '#libs/api-client';
import { foldPatches } from '#libs/workflows';
import { drawGraph } from './draw-graph';
import type { CanvasHandover, FoldRequest, FoldResponse } from './fold-protocol';
import { layoutGraph } from './graph-layout';

const canvases = new Map<number, OffscreenCanvas>();

/**
 * Materializes a workflow off the main thread: fetches its snapshot and the patches after it, folds them with the
 * patch engine the materializers use, and lays the result out. The page only draws what comes back, so a thousand
 * pending patches never block it.
 */
async function materialize(request: FoldRequest): Promise<FoldResponse> {
  const started = performance.now();
  const client = createApiClient({ baseUrl: request.origin, apiKey: request.apiKey });
  const {
    data: source,
    error,
    response,
  } = await client.GET('/v1/workflows/{id}/materialization', {
    params: {
      path: { id: request.workflowId },
      query: request.version === undefined ? {} : { version: request.version },
    },
  });
  if (!source) {
    return { id: request.id, ok: false, status: response.status, problem: error, error: `HTTP ${response.status}` };
  }
  const fetched = performance.now();
  const folded = foldPatches(
    source.snapshot,
    source.patches.map((p) => ({ id: p.patchId, seq: p.seq, ops: p.ops })),
    source.foldOptions,
  );
  const foldedAt = performance.now();
  const layout = layoutGraph(folded.definition);
  const laidOut = performance.now();
  const canvas = request.canvasId === undefined ? undefined : canvases.get(request.canvasId);
  if (canvas) drawGraph(canvas, layout, request.scale ?? 1);
  return {
    id: request.id,
    ok: true,
    source: { ...source, patches: source.patches.map(({ ops: _, ...patch }) => patch) },
    definition: folded.definition,
    appliedThroughSeq: folded.appliedThroughSeq,
    decisions: folded.decisions,
    layout,
    fetchMs: fetched - started,
    foldMs: foldedAt - fetched,
    layoutMs: laidOut - foldedAt,
    drawMs: performance.now() - laidOut,
  };
}

self.onmessage = (message: MessageEvent<FoldRequest | CanvasHandover>) => {
  const request = message.data;
  if (request.kind === 'canvas') {
    canvases.set(request.canvasId, request.canvas);
    return;
  }
  const reply = (response: FoldResponse) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(response);
  materialize(request).then(reply, (error: unknown) => reply({ id: request.id, ok: false, error: String(error) }));
};
