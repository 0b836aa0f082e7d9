import { isCacheableNodeType, MAX_EDGES, MAX_NODES, workflowDefinitionSchema } from './definition-schema.js';
import { graphErrors } from './graph-checks.js';
import { jsonataProblem, newRegexBudget, type RegexBudget } from './jsonata-check.js';
import { promptTemplateProblem } from './prompt-template.js';
import { compileSchemaCheck, isRecord } from './schema-errors.js';
import { isForbiddenHost } from './ssrf-guard.js';
import { measureJson } from './json-measure.js';
import {
  DEFAULT_DEFINITION_MAX_BYTES,
  DEFAULT_DEFINITION_MAX_DEPTH,
  NODE_TYPES,
  type DefinitionOptions,
  type NodeType,
  type ValidationResult,
  type WorkflowDefinition,
} from './workflow-definition.js';

/** Past this many errors the rest are counted, not listed: one broken generator can produce thousands. */
const MAX_REPORTED_ERRORS = 100;

const checkShape = compileSchemaCheck(
  workflowDefinitionSchema,
  { label: '', rootName: 'definition' },
  (error, where) => {
    const params = error.params as Record<string, unknown>;
    switch (`${error.schemaPath} ${error.keyword}`) {
      case '#/properties/nodes/additionalProperties/discriminator discriminator':
        // A missing `type` is already a "required" error.
        return params.tagValue === undefined
          ? null
          : `${where}.type: unknown node type ${JSON.stringify(params.tagValue)} (known: ${NODE_TYPES.join(', ')})`;
      case '#/properties/nodes/propertyNames/pattern pattern':
        return `${where}: invalid node id "${error.propertyName}" (must start with a letter or "_" and have at most 64 letters, digits, "_" or "-")`;
      case '#/properties/nodes/propertyNames/not not':
        return `${where}: node id "${error.propertyName}" is reserved`;
      case '#/properties/nodes/minProperties minProperties':
        return `${where}: must have at least one node`;
      case '#/properties/nodes/maxProperties maxProperties':
        return `${where}: must have at most ${MAX_NODES} nodes`;
      case '#/properties/edges/maxItems maxItems':
        return `${where}: must have at most ${MAX_EDGES} edges`;
      default:
        // A `cache` setting on a node type that is never cached says more than "unknown property".
        if (error.keyword === 'additionalProperties' && params.additionalProperty === 'cache' && isRecord(error.data)) {
          const type = error.data.type as NodeType;
          if (NODE_TYPES.includes(type) && !isCacheableNodeType(type)) {
            return `${where}.cache: ${type} nodes are never cached`;
          }
        }
        return undefined;
    }
  },
);

/**
 * Checks a workflow definition from outside (API body, patched result) and returns it typed, or every problem found
 * as `<where>: <what>` messages: shape (JSON Schema) first, then JSONata (syntax, regexes) and http_request targets,
 * then the graph. Never throws, whatever `input` is.
 */
export function validateDefinition(
  input: unknown,
  options: DefinitionOptions = {},
): ValidationResult<WorkflowDefinition> {
  // First, and alone: the checks below walk the definition, and one past its limits is not worth walking.
  const maxBytes = options.maxBytes ?? DEFAULT_DEFINITION_MAX_BYTES;
  const maxDepth = options.maxDepth ?? DEFAULT_DEFINITION_MAX_DEPTH;
  const measured = measureJson(input, { maxBytes, maxDepth });
  if (measured.bytes > maxBytes)
    return { ok: false, errors: [`definition: must be at most ${maxBytes} bytes as JSON`] };
  if (measured.depth > maxDepth)
    return { ok: false, errors: [`definition: must nest at most ${maxDepth} levels deep`] };

  const errors = checkShape(input);
  if (isRecord(input)) {
    const { nodes, edges } = input;
    const regexBudget = newRegexBudget();
    if (isRecord(nodes)) {
      for (const [id, node] of Object.entries(nodes)) {
        errors.push(...nodeMeaningErrors(id, node, options, regexBudget));
      }
    }
    if (Array.isArray(edges)) {
      edges.forEach((edge, index) => {
        if (isRecord(edge) && typeof edge.when === 'string' && edge.when !== '') {
          const problem = jsonataProblem(edge.when, regexBudget);
          if (problem) errors.push(`edges[${index}].when: ${problem}`);
        }
      });
    }
    // The graph needs a node map and an edge list; individual bad nodes or edges do not stop it.
    if (isRecord(nodes) && Array.isArray(edges)) errors.push(...graphErrors(Object.keys(nodes), edges));
  }
  if (errors.length === 0) return { ok: true, value: input as WorkflowDefinition };
  if (errors.length > MAX_REPORTED_ERRORS) {
    const more = errors.length - MAX_REPORTED_ERRORS;
    errors.splice(MAX_REPORTED_ERRORS, more, `(and ${more} more errors)`);
  }
  return { ok: false, errors };
}

/** What the schema cannot say about a node's config: JSONata that cannot run, URLs that must not be called. */
function nodeMeaningErrors(id: string, node: unknown, options: DefinitionOptions, regexBudget: RegexBudget): string[] {
  if (!isRecord(node) || !isRecord(node.config) || !NODE_TYPES.includes(node.type as NodeType)) return [];
  const config = node.config;
  const where = `nodes.${id}.config`;
  switch (node.type as NodeType) {
    case 'function': {
      if (typeof config.expression !== 'string' || config.expression === '') return [];
      const problem = jsonataProblem(config.expression, regexBudget);
      return problem ? [`${where}.expression: ${problem}`] : [];
    }
    case 'http_request': {
      if (typeof config.url !== 'string' || config.url === '') return [];
      const problem = urlProblem(config.url, options);
      return problem ? [`${where}.url: ${problem}`] : [];
    }
    case 'agent': {
      if (typeof config.prompt !== 'string' || config.prompt === '') return [];
      const problem = promptTemplateProblem(config.prompt, regexBudget);
      return problem ? [`${where}.prompt: ${problem}`] : [];
    }
    case 'hitl':
    case 'delay':
      return [];
  }
}

function urlProblem(text: string, options: DefinitionOptions): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `must be an absolute http or https URL, not ${url.protocol}`;
  }
  // URL parsing has already turned numeric tricks (http://2130706433/, http://0x7f.1/) into 127.0.0.1.
  const reason = isForbiddenHost(url.hostname, options.allowedHosts);
  return reason ? `http_request may not target ${url.hostname} (${reason})` : null;
}
