import jsonata from 'jsonata';
import { expandedSizeBound, linearRegexRefusal, regexLiterals, type RegexLiteral } from '#libs/expressions';

/**
 * How large a definition's regex literals may be in all, as the linear engine expands them (expandedSizeBound: each
 * character counts once, a counted repeat as the copies it makes). Checking a regex compiles it on the API's or the
 * materializer's event loop, and compiling costs by that size: a 256 KB body of `/a{0,1000}/`-like literals kept
 * that loop busy for minutes. Within this budget checking took at most half a second in a cold process (0.2 s warm),
 * no more than parsing such a body of JSONata; ordinary regexes are a few dozen atoms (a UUID pattern 78, IPv4 36).
 */
export const MAX_REGEX_ATOMS = 5_000;

/** What is left of a definition's MAX_REGEX_ATOMS as its expressions are checked. */
export interface RegexBudget {
  remaining: number;
}

export const newRegexBudget = (): RegexBudget => ({ remaining: MAX_REGEX_ATOMS });

/**
 * Why `expression` cannot run, or null if it can as far as its text tells: `not valid JSONata: …` when it does not
 * compile, `not supported: …` when it has a regex literal the linear-time engine refuses (the expression would fail on
 * every run that reaches it) or its regex literals do not fit in what is left of `budget`. Evaluation needs run data,
 * so nothing else is checked; but a definition should be refused at submission rather than fail on its first run.
 */
export function jsonataProblem(expression: string, budget: RegexBudget): string | null {
  const checked = parse(expression);
  if ('syntax' in checked) return checked.syntax;
  if (checked.literals.length === 0) return null;
  if (checked.size > budget.remaining) {
    return (
      `not supported: the definition's regex literals would be larger than ${MAX_REGEX_ATOMS} atoms in all ` +
      `(up to ${checked.size} here; each character is one, a counted repeat such as {100} makes as many copies)`
    );
  }
  budget.remaining -= checked.size;
  if (checked.refusal === undefined) checked.refusal = refusal(checked.literals);
  return checked.refusal;
}

type Checked =
  { readonly syntax: string } | { readonly literals: RegexLiteral[]; readonly size: number; refusal?: string | null };

// Folding a backlog re-validates the same definition once per patch: compiling its expressions each time was nearly
// all the materializer's CPU. What is found is a pure function of the text, so it can be kept (the regex verdict
// once a budget has let it be computed).
const MAX_REMEMBERED = 10_000;
const remembered = new Map<string, Checked>();

function parse(expression: string): Checked {
  let checked = remembered.get(expression);
  if (checked) return checked;
  checked = compile(expression);
  if (remembered.size >= MAX_REMEMBERED) remembered.clear();
  remembered.set(expression, checked);
  return checked;
}

function compile(expression: string): Checked {
  let ast: jsonata.ExprNode;
  try {
    ast = jsonata(expression).ast();
  } catch (error) {
    // jsonata throws plain objects ({code, position, token, message}), not Error instances.
    const { message, position } = (typeof error === 'object' && error !== null ? error : {}) as {
      message?: unknown;
      position?: unknown;
    };
    const at = typeof position === 'number' ? ` (at position ${position})` : '';
    return { syntax: `not valid JSONata: ${typeof message === 'string' ? message : String(error)}${at}` };
  }
  const literals = regexLiterals(ast);
  return { literals, size: literals.reduce((sum, { regex }) => sum + expandedSizeBound(regex), 0) };
}

/** The first literal the linear engine refuses, with its reason, and how many more it refuses. */
function refusal(literals: readonly RegexLiteral[]): string | null {
  const refused = literals.flatMap((literal) => {
    const reason = linearRegexRefusal(literal.regex);
    return reason === null ? [] : [{ ...literal, reason }];
  });
  const [first, ...others] = refused;
  if (!first) return null;
  const more = others.length ? ` (and ${others.length} more such ${others.length === 1 ? 'regex' : 'regexes'})` : '';
  return (
    `not supported: the linear-time regex engine refuses ${first.literal} (at position ${first.position}): ` +
    `${first.reason}; it has no backreferences or lookarounds${more}`
  );
}
