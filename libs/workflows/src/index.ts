export {
  CACHEABLE_NODE_TYPES,
  isCacheableNodeType,
  MAX_CACHE_TTL_MS,
  MIN_SEMANTIC_SIMILARITY,
  MAX_EDGES,
  MAX_NODES,
  nodeConfigSchemas,
  workflowDefinitionSchema,
  type CacheableNodeType,
} from './definition-schema.js';
export { diffDefinitions } from './definition-diff.js';
export { foldPatches, type FoldResult, type PatchDecision, type PendingPatch } from './fold-patches.js';
export { MAX_PATCH_OPS, PATCH_OPS, patchOpsSchema, validatePatchOps, type PatchOperation } from './patch-ops.js';
export { isForbiddenHost } from './ssrf-guard.js';
export { validateDefinition } from './validate-definition.js';
export {
  DEFAULT_DEFINITION_MAX_BYTES,
  DEFAULT_DEFINITION_MAX_DEPTH,
  HTTP_METHODS,
  NODE_TYPES,
  type DefinitionOptions,
  type EdgeDefinition,
  type HttpMethod,
  type NodeCacheOptions,
  type NodeConfigs,
  type NodeDefinition,
  type NodeType,
  type ValidationResult,
  type WorkflowDefinition,
} from './workflow-definition.js';
export {
  parsePromptTemplate,
  promptTemplateProblem,
  renderPromptTemplate,
  type PromptPart,
} from './prompt-template.js';
