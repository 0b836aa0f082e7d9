import { linearRegexRefusal } from './linear-regex.js';

/** A regex literal of an expression that the linear engine will not compile, so the expression cannot run. */
export interface RefusedRegex {
  /** As written: `/source/flags`, without the `g` that jsonata adds. */
  readonly literal: string;
  /** jsonata's position of the literal in the expression (where its token ends). */
  readonly position: number;
  readonly reason: string;
}

/**
 * The regex literals of a parsed expression (`jsonata(text).ast()`) that the linear engine refuses, in the order they
 * appear. Literals are the only regexes an expression can have (jsonata builds none from strings), and jsonata
 * compiles each with V8's engine while parsing, so they are known before any run; on a run, LinearRegExp would refuse
 * them. The walk is generic over the tree (arguments, steps, stages, lambdas, transforms, object constructors...), as
 * jsonata's node shapes are its own business, and iterative, as a tree that parsed may still be too deep for
 * recursion.
 */
export function refusedRegexLiterals(ast: unknown): RefusedRegex[] {
  const refused: RefusedRegex[] = [];
  const seen = new Set<object>();
  const pending: unknown[] = [ast];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null || seen.has(node)) continue;
    seen.add(node);
    if (isRegexNode(node)) {
      const reason = linearRegexRefusal(node.value);
      if (reason !== null) refused.push({ literal: written(node.value), position: node.position ?? 0, reason });
      continue;
    }
    for (const child of Array.isArray(node) ? node : Object.values(node)) pending.push(child);
  }
  return refused.sort((a, b) => a.position - b.position);
}

function isRegexNode(node: object): node is { type: 'regex'; value: RegExp; position?: number } {
  return (node as { type?: unknown }).type === 'regex' && (node as { value?: unknown }).value instanceof RegExp;
}

function written(regex: RegExp): string {
  return `/${regex.source}/${regex.flags.replace('g', '')}`;
}
