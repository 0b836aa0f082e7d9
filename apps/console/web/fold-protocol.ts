import type { components } from '#libs/api-client';
import type { PatchDecision, WorkflowDefinition } from '#libs/workflows';
import type { GraphLayout } from './graph-layout';

export type MaterializationSource = components['schemas']['MaterializationSource'];

/** The page hands the worker a canvas once (transferred: the worker owns it from then on). */
export interface CanvasHandover {
  readonly kind: 'canvas';
  readonly canvasId: number;
  readonly canvas: OffscreenCanvas;
}

/** The page asks the worker to materialize a workflow; the worker fetches, folds, lays out and draws. */
export interface FoldRequest {
  readonly kind: 'fold';
  readonly id: number;
  /** The canvas to draw the result on, handed over before. */
  readonly canvasId?: number | undefined;
  readonly scale?: number;
  readonly origin: string;
  readonly apiKey: string;
  readonly workflowId: string;
  readonly version?: number | undefined;
}

/** What the page needs of the source: everything but the patches' operations. */
export type SourceSummary = Omit<MaterializationSource, 'patches'> & {
  patches: Omit<MaterializationSource['patches'][number], 'ops'>[];
};

export type FoldResponse =
  | {
      readonly id: number;
      readonly ok: true;
      readonly source: SourceSummary;
      readonly definition: WorkflowDefinition;
      readonly appliedThroughSeq: number;
      readonly decisions: PatchDecision[];
      readonly layout: GraphLayout;
      /** The request and JSON parsing, the fold, the layout: all in the worker. */
      readonly fetchMs: number;
      readonly foldMs: number;
      readonly layoutMs: number;
      /** Drawing on the handed-over canvas (0 without one). */
      readonly drawMs: number;
    }
  | {
      readonly id: number;
      readonly ok: false;
      readonly status?: number;
      readonly problem?: unknown;
      readonly error: string;
    };
