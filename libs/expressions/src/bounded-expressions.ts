import jsonata from 'jsonata';

type Ast = ReturnType<ReturnType<typeof jsonata>['ast']>;

/** Longer expressions go to the threads: the check parses on the caller's thread, so its cost is bounded too. */
const MAX_LENGTH = 1_000;
const MAX_NODES = 64;
/** Field reads: each is at most the size of the data, and so is what an expression builds of them. */
const MAX_READS = 8;
const MAX_REMEMBERED = 10_000;

/** Operators whose cost is linear in their operands (`..` builds ranges, so it is not among them). */
const LINEAR_OPERATORS = new Set(['+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', 'and', 'or', '&', 'in']);
/** The keys a plain node has; any other (stages, predicates, grouping, focus, index binding) means more work. */
const PLAIN_KEYS = new Set(['type', 'value', 'position']);

/**
 * Whether an expression can only do work linear in the data it reads: a few field paths, literals, arithmetic,
 * comparison, boolean logic, concatenation, conditions and constructors; no function call, lambda, regex, wildcard,
 * filter, sort, range, variable but the context `$`, nor a path step that maps an expression over items (which could
 * multiply the data by itself). Such an expression cannot hang or grow past the size of its data, so it is
 * evaluated on the caller's thread instead of a round trip to the expression threads (the run benchmark's
 * `input.x`, `nodes.a + 1`: three of those per run were 5 % of the service's CPU). Anything else, or anything this
 * check does not recognise, goes to the threads, where a limit can stop it.
 */
export class BoundedExpressions {
  private readonly known = new Map<string, boolean>();

  has(expression: string): boolean {
    let bounded = this.known.get(expression);
    if (bounded === undefined) {
      bounded = expression.length <= MAX_LENGTH && isBounded(expression);
      if (this.known.size >= MAX_REMEMBERED) this.known.clear();
      this.known.set(expression, bounded);
    }
    return bounded;
  }
}

function isBounded(expression: string): boolean {
  let ast: Ast;
  try {
    ast = jsonata(expression).ast();
  } catch {
    // A syntax error is reported by the threads, in the words every other expression error has.
    return false;
  }
  return linear(ast, { nodes: MAX_NODES, reads: MAX_READS });
}

interface Budget {
  nodes: number;
  reads: number;
}

/** Whether the node has no keys but the plain ones and `extra` (no stages, predicates, grouping, focus or binding). */
function plainNode(node: Record<string, unknown>, extra: readonly string[] = []): boolean {
  return Object.keys(node).every((key) => PLAIN_KEYS.has(key) || extra.includes(key));
}

/** A read of the data: `$`, a field, or a path of fields from either (no step that maps an expression over items). */
function read(node: Record<string, unknown>, budget: Budget): boolean {
  if (--budget.reads < 0) return false;
  if (node.type === 'variable') return node.value === '' && plainNode(node);
  if (node.type === 'name') return plainNode(node);
  if (node.type !== 'path' || !Array.isArray(node.steps) || !plainNode(node, ['steps'])) return false;
  return node.steps.every(
    (step: Record<string, unknown>, i) =>
      --budget.nodes >= 0 &&
      plainNode(step) &&
      (step.type === 'name' || (i === 0 && step.type === 'variable' && step.value === '')),
  );
}

function linear(node: unknown, budget: Budget): boolean {
  if (--budget.nodes < 0 || typeof node !== 'object' || node === null) return false;
  const n = node as Record<string, unknown> & { type: string; value?: unknown };
  const all = (nodes: unknown) => Array.isArray(nodes) && nodes.every((child) => linear(child, budget));
  const plain = (extra: readonly string[] = []) => plainNode(n, extra);
  switch (n.type) {
    case 'string':
    case 'number':
    case 'value':
      return plain();
    case 'name':
    case 'variable':
    case 'path':
      return read(n, budget);
    case 'binary':
      return LINEAR_OPERATORS.has(n.value as string) && plain(['lhs', 'rhs']) && all([n.lhs, n.rhs]);
    case 'condition':
      return plain(['condition', 'then', 'else']) && all([n.condition, n.then, ...(n.else ? [n.else] : [])]);
    case 'block':
      return plain(['expressions']) && all(n.expressions);
    case 'unary':
      if (n.value === '-') return plain(['expression']) && linear(n.expression, budget);
      if (n.value === '[') return plain(['expressions', 'consarray']) && all(n.expressions);
      if (n.value === '{') return plain(['lhs']) && Array.isArray(n.lhs) && n.lhs.every((pair) => all(pair));
      return false;
    default:
      return false;
  }
}
