import jsonata from 'jsonata';

/**
 * Why `expression` is not valid JSONata, or null if it compiles. Only syntax is checked: evaluation needs run data,
 * and a definition should be refused at submission rather than fail on its first run.
 */
export function jsonataSyntaxError(expression: string): string | null {
  const known = verdicts.get(expression);
  if (known !== undefined) return known;
  const verdict = compile(expression);
  // Folding a backlog re-validates the same definition once per patch: compiling its expressions each time was
  // nearly all the materializer's CPU. Syntax is a pure function of the text, so the verdict can be kept.
  if (verdicts.size >= MAX_REMEMBERED) verdicts.clear();
  verdicts.set(expression, verdict);
  return verdict;
}

const MAX_REMEMBERED = 10_000;
const verdicts = new Map<string, string | null>();

function compile(expression: string): string | null {
  try {
    jsonata(expression);
    return null;
  } catch (error) {
    // jsonata throws plain objects ({code, position, token, message}), not Error instances.
    const { message, position } = (typeof error === 'object' && error !== null ? error : {}) as {
      message?: unknown;
      position?: unknown;
    };
    const at = typeof position === 'number' ? ` (at position ${position})` : '';
    return `${typeof message === 'string' ? message : String(error)}${at}`;
  }
}
