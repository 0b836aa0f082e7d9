import jsonata from 'jsonata';

/**
 * Why `expression` is not valid JSONata, or null if it compiles. Only syntax is checked: evaluation needs run data,
 * and a definition should be refused at submission rather than fail on its first run.
 */
export function jsonataSyntaxError(expression: string): string | null {
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
