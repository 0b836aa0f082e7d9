import { api, data } from './api';
import type { FoldRequest, FoldResponse, MaterializationSource } from './fold-protocol';

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

/** Folds a source in the Web Worker. */
export function foldInWorker(source: MaterializationSource): Promise<FoldResponse> {
  const id = ++nextId;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    foldWorker().postMessage({ id, source } satisfies FoldRequest);
  });
}

export interface Materialized {
  readonly source: MaterializationSource;
  readonly fold: FoldResponse;
  /** ms from the request to the folded result, and of that the fold in the worker. */
  readonly totalMs: number;
}

/** Fetches what the server has (snapshot + patches after it) and folds it here: the server does no folding. */
export async function materialize(workflowId: string, version?: number): Promise<Materialized> {
  const started = performance.now();
  const source = await data(
    api().GET('/v1/workflows/{id}/materialization', {
      params: { path: { id: workflowId }, query: version === undefined ? {} : { version } },
    }),
  );
  const fold = await foldInWorker(source);
  return { source, fold, totalMs: performance.now() - started };
}
