import type { components } from '#libs/api-client';
import type { PatchDecision, WorkflowDefinition } from '#libs/workflows';

export type MaterializationSource = components['schemas']['MaterializationSource'];

export interface FoldRequest {
  readonly id: number;
  readonly source: MaterializationSource;
}

export type FoldResponse =
  | {
      readonly id: number;
      readonly ok: true;
      readonly definition: WorkflowDefinition;
      readonly appliedThroughSeq: number;
      readonly decisions: PatchDecision[];
      readonly foldMs: number;
    }
  | { readonly id: number; readonly ok: false; readonly error: string };
