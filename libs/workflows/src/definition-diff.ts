import { createPatch } from 'rfc6902';
import type { PatchOperation } from './patch-ops.js';
import type { WorkflowDefinition } from './workflow-definition.js';

/** RFC 6902 operations that turn `from` into `to` (what a version changed), with the patch engine's own library. */
export const diffDefinitions = (from: WorkflowDefinition, to: WorkflowDefinition): PatchOperation[] =>
  createPatch(from, to);
