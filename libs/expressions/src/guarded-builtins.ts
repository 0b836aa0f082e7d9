import jsonata from 'jsonata';

type Compiled = ReturnType<typeof jsonata>;
type Implementation = (...args: unknown[]) => unknown;

/** jsonata's own implementation of a built-in (what `$name` evaluates to). */
async function builtin(name: string): Promise<Implementation> {
  return ((await jsonata(`$${name}`).evaluate({})) as { implementation: Implementation }).implementation;
}
const [pad, join] = await Promise.all([builtin('pad'), builtin('join')]);

/**
 * `$pad` and `$join` with a size check before they build their string. A thread's heap cap does not contain one huge
 * allocation: V8 then aborts the whole process, not just the thread (nodejs/node#47224), so the built-ins that make a
 * string of a size the user picks refuse to make one longer than `maxChars`. A RangeError is what V8 throws for a
 * string too long, and is reported as a limit.
 */
export function guardBuiltins(expression: Compiled, maxChars: number): void {
  const refuse = (what: string, chars: number) =>
    new RangeError(`${what} would build ${chars} characters, over the ${maxChars}-character limit`);
  expression.registerFunction(
    'pad',
    (text: unknown, width: unknown, char: unknown) => {
      if (typeof width === 'number' && Math.abs(width) > maxChars) throw refuse('$pad', Math.abs(width));
      return pad(text, width, char);
    },
    '<s-ns?:s>',
  );
  expression.registerFunction(
    'join',
    (strings: unknown, separator: unknown) => {
      if (Array.isArray(strings)) {
        let chars = typeof separator === 'string' ? separator.length * Math.max(0, strings.length - 1) : 0;
        for (const s of strings as unknown[]) chars += typeof s === 'string' ? s.length : 0;
        if (chars > maxChars) throw refuse('$join', chars);
      }
      return join(strings, separator);
    },
    '<a<s>s?:s>',
  );
}

/**
 * Whether a value, as JSON, would take more than `limit` characters, judged without building the JSON (which would be
 * the huge allocation itself) and without flattening strings; stops as soon as it knows.
 */
export function jsonExceeds(value: unknown, limit: number): boolean {
  let chars = 0;
  const pending: unknown[] = [value];
  while (pending.length) {
    const next = pending.pop();
    if (typeof next === 'string') chars += next.length + 2;
    else if (Array.isArray(next)) {
      chars += next.length + 1;
      for (const item of next) pending.push(item);
    } else if (typeof next === 'object' && next !== null) {
      for (const [key, item] of Object.entries(next)) {
        chars += key.length + 4;
        pending.push(item);
      }
    } else chars += 5;
    if (chars > limit) return true;
  }
  return false;
}
