/**
 * What a parsed JSON body must not hold, found with an explicit stack (a body of 100,000 nested arrays parses fine
 * but overflows every recursive walk after it: the schema checks, JSON.stringify, structuredClone):
 * - nesting deeper than `maxDepth`;
 * - text Postgres cannot store: U+0000 (neither `text` nor `jsonb` takes it) and lone surrogates (`jsonb` refuses the
 *   `\ud800` escape JSON.stringify writes for them). Refused here, they cannot fail a whole group commit later.
 * Returns the first problem with the path of the field, e.g. `input.list[1].text`.
 */
export function jsonBodyProblem(body: unknown, maxDepth: number): string | null {
  interface Entry {
    readonly value: unknown;
    readonly depth: number;
    readonly parent: Entry | null;
    readonly key: string | number;
  }
  const stack: Entry[] = [{ value: body, depth: 0, parent: null, key: '' }];
  while (stack.length) {
    const entry = stack.pop() as Entry;
    const { value, depth } = entry;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) return `${pathOf(entry)}: ${problem}`;
    } else if (typeof value === 'object' && value !== null) {
      if (depth + 1 > maxDepth) return `${pathOf(entry)}: nests deeper than ${maxDepth} levels`;
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--)
          stack.push({ value: value[i], depth: depth + 1, parent: entry, key: i });
      } else {
        for (const [key, member] of Object.entries(value).reverse()) {
          const child: Entry = { value: member, depth: depth + 1, parent: entry, key };
          const problem = textProblem(key);
          if (problem) return `${pathOf(child)} (the key): ${problem}`;
          stack.push(child);
        }
      }
    }
  }
  return null;
}

function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'text may not contain U+0000 (NUL)';
  if (!text.isWellFormed()) return 'text may not contain a lone UTF-16 surrogate';
  return null;
}

/** `ops[0].value`, `definition.nodes["a b"]`; `body` for the body itself. */
function pathOf(entry: { parent: unknown; key: string | number }): string {
  const parts: string[] = [];
  for (let at = entry as { parent: unknown; key: string | number } | null; at?.parent;) {
    const key = at.key;
    parts.push(
      typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`,
    );
    at = at.parent as typeof at;
  }
  const path = parts.reverse().join('');
  return path ? path.replace(/^\./, '') : 'body';
}
