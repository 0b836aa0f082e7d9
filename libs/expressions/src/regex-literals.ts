/** A regex literal of a parsed expression. */
export interface RegexLiteral {
  /** What jsonata built from it (flags `g` and any of `i`, `m`); the linear engine is given the same. */
  readonly regex: RegExp;
  /** As written: `/source/flags`, without the `g` that jsonata adds. */
  readonly literal: string;
  /** jsonata's position of the literal in the expression (where its token ends). */
  readonly position: number;
}

/**
 * The regex literals of a parsed expression (`jsonata(text).ast()`), in the order they appear. Literals are the only
 * regexes an expression can have (jsonata builds none from strings), and jsonata checks each against V8's syntax while
 * parsing, so they are known before any run; `linearRegexRefusal` says which the linear engine will not run. The walk
 * is generic over the tree (arguments, steps, stages, lambdas, transforms, object constructors...), as jsonata's node
 * shapes are its own business, and iterative, as a tree that parsed may still be too deep for recursion.
 */
export function regexLiterals(ast: unknown): RegexLiteral[] {
  const found: RegexLiteral[] = [];
  const seen = new Set<object>();
  const pending: unknown[] = [ast];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null || seen.has(node)) continue;
    seen.add(node);
    if (isRegexNode(node)) {
      const regex = node.value;
      found.push({ regex, literal: `/${regex.source}/${regex.flags.replace('g', '')}`, position: node.position ?? 0 });
      continue;
    }
    for (const child of Array.isArray(node) ? node : Object.values(node)) pending.push(child);
  }
  return found.sort((a, b) => a.position - b.position);
}

function isRegexNode(node: object): node is { type: 'regex'; value: RegExp; position?: number } {
  return (node as { type?: unknown }).type === 'regex' && (node as { value?: unknown }).value instanceof RegExp;
}
