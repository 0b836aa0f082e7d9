/// <reference lib="webworker" />
import { foldPatches } from '#libs/workflows';
import type { FoldRequest, FoldResponse } from './fold-protocol';

/**
 * Folds a workflow's patches onto its snapshot off the main thread, with the patch engine the materializers use, so a
 * thousand pending patches never block the page.
 */
self.onmessage = (message: MessageEvent<FoldRequest>) => {
  const { id, source } = message.data;
  const started = performance.now();
  let reply: FoldResponse;
  try {
    const folded = foldPatches(
      source.snapshot,
      source.patches.map((p) => ({ id: p.patchId, seq: p.seq, ops: p.ops })),
      source.foldOptions,
    );
    reply = {
      id,
      ok: true,
      definition: folded.definition,
      appliedThroughSeq: folded.appliedThroughSeq,
      decisions: folded.decisions,
      foldMs: performance.now() - started,
    };
  } catch (error) {
    reply = { id, ok: false, error: String(error) };
  }
  (self as unknown as DedicatedWorkerGlobalScope).postMessage(reply);
};
