import { ApiError } from './api';
import type { CanvasHandover, FoldRequest, FoldResponse } from './fold-protocol';
import { session } from './session';

let worker: Worker | undefined;
let nextId = 0;
const waiting = new Map<number, (response: FoldResponse) => void>();

function foldWorker(): Worker {
  if (!worker) {
    const url = document.querySelector<HTMLMetaElement>('meta[name="fold-worker"]')?.content;
    if (!url) throw new Error('the page names no fold worker');
    worker = new Worker(url, { type: 'module' });
    worker.onmessage = (message: MessageEvent<FoldResponse>) => {
      waiting.get(message.data.id)?.(message.data);
      waiting.delete(message.data.id);
    };
  }
  return worker;
}

/** Starts the worker ahead of the first workflow view: loading and compiling it is most of a cold view's wait. */
export const prewarmFoldWorker = (): void => void foldWorker();

const handedOver = new WeakMap<HTMLCanvasElement, number>();
let nextCanvasId = 0;

/** Gives the worker a page canvas to draw on (once per canvas element); its id for `materialize`. */
export function canvasForWorker(canvas: HTMLCanvasElement): number {
  let id = handedOver.get(canvas);
  if (id === undefined) {
    id = ++nextCanvasId;
    handedOver.set(canvas, id);
    const offscreen = canvas.transferControlToOffscreen();
    foldWorker().postMessage({ kind: 'canvas', canvasId: id, canvas: offscreen } satisfies CanvasHandover, [offscreen]);
  }
  return id;
}

export type Materialized = Extract<FoldResponse, { ok: true }> & { readonly totalMs: number };

/**
 * Materializes a workflow in the Web Worker (fetch, fold, layout): the server sends what it has and does no folding,
 * the main thread only draws the result.
 */
export async function materialize(
  workflowId: string,
  options: { version?: number | undefined; canvas?: HTMLCanvasElement | null | undefined } = {},
): Promise<Materialized> {
  // The benchmark's window for "the main thread while materializing" starts here.
  const started = performance.mark('materialize-start').startTime;
  const id = ++nextId;
  const request: FoldRequest = {
    kind: 'fold',
    id,
    origin: location.origin,
    apiKey: session.key() ?? '',
    workflowId,
    version: options.version,
    canvasId: options.canvas ? canvasForWorker(options.canvas) : undefined,
    scale: devicePixelRatio,
  };
  const response = await new Promise<FoldResponse>((resolve) => {
    waiting.set(id, resolve);
    foldWorker().postMessage(request);
  });
  if (!response.ok) {
    if (response.status) throw new ApiError(response.status, response.problem as ApiError['problem']);
    throw new Error(response.error);
  }
  return { ...response, totalMs: performance.now() - started };
}
